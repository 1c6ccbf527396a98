"""RadScribe (Nouvelle-Lune/RadScribe): image encoder + MedViLL-style BERT fusion + T5 decoder."""

from rrgbench import hookimpl


@hookimpl
def rrgbench_register_methods(register):
    register("rrgbench_plugins.methods.radscribe.method:RadScribe", name="radscribe",
             description="RadScribe: ViT/ResNet-101/DenseNet-121 image encoder + MedViLL-style BERT fusion "
                         "with label-text cross-attention + T5 decoder (predicted labels at test)")

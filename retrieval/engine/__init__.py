"""The SBIR engine: plain Python + torch/numpy/cv2/faiss, never Django (docs/engine.md).

The web apps use :mod:`.pipeline` (``Engine``), :mod:`.index` (``VectorIndex``),
:mod:`.features` (``FeatureStore``), :mod:`.errors`, :mod:`.images` and :mod:`.heads`;
training and evaluation commands build on :mod:`.training`, :mod:`.data`, :mod:`.featurize`,
:mod:`.losses` and :mod:`.metrics`. Importing this package imports nothing heavy.
"""

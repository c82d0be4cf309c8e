"""Fill the shared trunk-map cache of a dataset (``views``: augmented views; ``conv5``: VGG-16).

python -m retrieval.lab cache views --data DIR [--trunk efficientnet_lite2]
python -m retrieval.lab cache conv5 --data DIR [--limit N]
"""

from __future__ import annotations

from retrieval.lab.jobs.cache import conv5, views

JOBS = {"views": views, "conv5": conv5}

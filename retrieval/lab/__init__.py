"""The retrieval lab: training, evaluation, studies and benchmarks of the general model.

Run as ``python -m retrieval.lab <job>`` (:mod:`.jobs`). The web process and the worker never
import this package (``tests/test_web_process_imports_no_lab.py``); it imports the served
engine (:mod:`retrieval.engine`), never the reverse.

- :mod:`.jobs`          the command's jobs: train, evaluate, benchmark, cache, study
- :mod:`.command`       the command line shared with ``personalization.lab``
- :mod:`.options`       the options jobs share (--data, --seed, --threads, ...), declared once
- :mod:`.data`          the plain folder dataset (Sketchy layout), instance pairs, image reading
- :mod:`.splits`        seeded category holdout and 7:3 sketch split
- :mod:`.featurize`     trunk maps of a folder dataset, cached in FeatureStores
- :mod:`.cache`         the shared cache folder, balanced subsets, the VGG-16 conv5 cache warmer
- :mod:`.asked_split`   the training split embedded as search asks (what studies measure on)
- :mod:`.evaluation`    the evaluation path: queries asked as served, ranked, summarised
- :mod:`.metrics`       rankings, AP, mAP, P@K, precision-recall curves and their plot
- :mod:`.hog_baseline`  the HOG reference (Table 2) and its input maps
- :mod:`.reports`       the JSON a measuring job prints and writes
- :mod:`.benchmark`     VGG-16 embedding speed, precision modes, index build and recall
- :mod:`.training`      the general head's training (recipes, augmented views, loops)
- :mod:`.studies`       far-match threshold, query asking, photo input
"""

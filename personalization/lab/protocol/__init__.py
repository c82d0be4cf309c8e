"""The paper's protocol (section V): Table 2, Fig. 12, Table 3, Fig. 13 and feedback rounds.

- :mod:`.runner`     every stage in order, the report and its plots (``ProtocolConfig``,
  ``run_protocol``); run by ``python -m personalization.lab protocol`` and ``manage.py evaluate``
- :mod:`.data`       the folder (plain layout or photo library), the seeded split, the items
  each stage uses
- :mod:`.features`   ``GridExtractor``: the weight-free conv5 stand-in of ``--quick`` runs
- :mod:`.general`    stage 1: the general head (given or trained) and its untrained-trunk and
  HOG references, ranked over the gallery
- :mod:`.personal`   stage 2: simulated users, personal heads, Table 3, the w sweep
- :mod:`.mixed`      the feedback rounds of mixed-subject users against Rocchio and 1-NN
- :mod:`.baselines`  Rocchio and 1-NN re-ranking (relevance-feedback baselines)
- :mod:`.metrics`    distances, fine-grained relevance, per-category means, the summary
- :mod:`.report`     the report's JSON, text summary, plots and the paper's figures
"""

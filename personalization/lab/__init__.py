"""The personalization lab: the paper's protocol, benchmarks, calibration, synthetic data.

Run as ``python -m personalization.lab <job>`` (:mod:`.jobs`; ``manage.py evaluate`` runs the
protocol job). The web process and the worker never import this package; it imports the
served engines and the retrieval lab, never the reverse.

- :mod:`.jobs`                   the command's jobs: protocol, benchmark, calibrate-closeness,
  synthetic-data (common options: :mod:`retrieval.lab.options`)
- :mod:`.protocol`               the paper's section V protocol and the feedback rounds
- :mod:`.closeness_calibration`  measure the closeness rule of a general head
- :mod:`.benchmark`              personal training time, re-scoring recall, added latency
- :mod:`.synthetic`              synthetic conv5 maps with separable sub-categories (tests,
  benchmarks)
- :mod:`.synthetic_dataset`      a tiny synthetic sketch/photo folder with sub-categories
"""

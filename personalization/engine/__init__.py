"""The personalization engine: plain Python + numpy + torch, never Django.

- :mod:`.grouping`  parent / sub-category groups, from labels or derived (k-means, neighbours)
- :mod:`.dataset`   the eq. 9 training set of <U, S, S_i, Y> quadruples, 1:1:1
- :mod:`.finetune`  re-initialise conv6 and train it with the eq. 14 loss on cached conv5 maps
- :mod:`.scoring`   personal distances (eq. 16), the shares of a search's score (general,
  head, marks) and the w-mix (eqs. 18-19), head cache
- :mod:`.closeness` when feedback applies to a new search: the measured closeness rule
- :mod:`.closeness_calibration` ``python -m personalization.engine.closeness_calibration``
- :mod:`.protocol` (and ``protocol_*``) the paper's protocol and the mixed-subject feedback
  rounds (``protocol_mixed``)
- :mod:`.synthetic` synthetic conv5 maps with separable sub-categories, for tests and benchmarks
- :mod:`.benchmark` ``python -m personalization.engine.benchmark``
"""

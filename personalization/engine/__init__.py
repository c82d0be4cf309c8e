"""The served personalization engine: plain Python + numpy + torch, never Django.

What the web process and the worker run (the protocol, benchmarks, calibration and synthetic
data are the lab, :mod:`personalization.lab`, which imports this package, never the reverse).

- :mod:`.grouping`  parent / sub-category groups, from labels or derived (k-means, neighbours)
- :mod:`.dataset`   the eq. 9 training set of <U, S, S_i, Y> quadruples, 1:1:1
- :mod:`.finetune`  re-initialise a head and train it with the eq. 14 loss on cached trunk maps
- :mod:`.scoring`   personal distances (eq. 16), the shares of a search's score (general,
  head, marks) and the w-mix (eqs. 18-19), head cache
- :mod:`.closeness` when feedback applies to a new search: the measured closeness rule
"""

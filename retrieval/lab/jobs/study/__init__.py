"""Measure a serving choice on the training or selection split (far-match, query, photo-input).

python -m retrieval.lab study far-match --data DIR [--write]
python -m retrieval.lab study query --data DIR --checkpoint SEL.pt
python -m retrieval.lab study photo-input --data DIR
"""

from __future__ import annotations

from retrieval.lab.jobs.study import far_match, photo_input, query

JOBS = {"far-match": far_match, "query": query, "photo-input": photo_input}

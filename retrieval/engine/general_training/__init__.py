"""The general model's training recipe (issue 9): splits, feature caching, heads on cached maps.

Used by ``python -m retrieval.engine.train_general`` and ``python -m retrieval.engine.evaluate``;
never imported by the web process.
"""

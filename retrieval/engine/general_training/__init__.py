"""The general model's training: splits, cached trunk maps in augmented views, recipes.

Used by ``python -m retrieval.engine.train_general`` and ``python -m retrieval.engine.evaluate``;
never imported by the web process.
"""

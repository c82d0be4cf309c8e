"""The general model's training (``python -m retrieval.lab train``).

- :mod:`.general_head`    the training run: splits, cached maps, validation, the checkpoint
- :mod:`.augmented_views` every image's trunk maps in a few seeded augmented views, cached
- :mod:`.view_recipe`     the product's recipe: an EfficientNet-Lite head on cached views
- :mod:`.conv6_recipes`   the VGG-16 conv6 recipes (the paper's eq. 4 and ours) on conv5 maps
- :mod:`.pair_loop`       the paper's balanced-pair loop, RMSProp and step schedule
"""

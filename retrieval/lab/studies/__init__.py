"""Studies that chose a serving rule, measured on the training or model-selection split only.

- :mod:`.far_match`   the far-match note's threshold (``study far-match``)
- :mod:`.query`       how a query is asked: mirror averaging, query expansion (``study query``)
- :mod:`.photo_input` photos into the trunk as RGB or as edge maps (``study photo-input``)
"""

"""Writes of the personalization app: the search a user runs, feedback, w, training, heads.

- :mod:`.search`      the search a user runs: retrieval's general candidates ranked for the
                      user (personalization.ranking), stored with its results
- :mod:`.compare`     before / after: a stored query re-run today, general and personal
- :mod:`.feedback`    marks on results, withdrawing them
- :mod:`.preferences` the user's w
- :mod:`.training`    training a personalized head (the django-q2 task body)
- :mod:`.heads`       choosing which of a user's heads serves (or none)

Functions are named ``<entity>_<action>``, take keyword arguments, re-check the tenant (and
the user, for per-user data) themselves, and raise ``ValidationError`` with a message fit for
the person who asked, or ``Http404`` for an id that is not theirs.
"""

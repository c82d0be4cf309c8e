"""Writes of the personalization app: feedback, w, training, head activation.

Functions are named ``<entity>_<action>``, take keyword arguments, re-check the tenant (and
the user, for per-user data) themselves, and raise ``ValidationError`` with a message fit for
the person who asked, or ``Http404`` for an id that is not theirs.
"""

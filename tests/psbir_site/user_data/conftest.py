"""Fixtures of the "Your data" tests: the personalization tests' data folders and helpers
(a user's data spans retrieval and personalization)."""

from tests.personalization.conftest import (  # noqa: F401
    closeness_rule,
    fast_training,
    pz_dirs,
    run_on_commit,
)

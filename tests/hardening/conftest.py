"""Fixtures of the hardening tests: the retrieval tests' fake engine and libraries, reused.

Re-exported (not copied) so a change there is a change here: retrieval_dirs (autouse),
fake_engine, make_library, indexed_library, run_on_commit.
"""

from typing import Any

import pytest

from tests.retrieval.conftest import (  # noqa: F401
    fake_engine,
    indexed_library,
    make_library,
    retrieval_dirs,
    run_on_commit,
)


@pytest.fixture
def short_lease(settings: Any) -> None:
    """This process sees job leases expire as fast as the test's workers renew them."""
    from tests.hardening.workers import LEASE_SECONDS

    settings.PSBIR_JOB_LEASE_SECONDS = LEASE_SECONDS

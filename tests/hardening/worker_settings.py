"""Settings of a real worker process in the fault tests: the project's, with a slow fake engine.

The kill tests are about process death and recovery (queue redelivery, atomic index swaps,
resumable jobs), not about the network, so the worker embeds with the retrieval tests'
FakeEngine (same model version as the test process), slowed by ``PSBIR_FAKE_ENGINE_DELAY``
seconds per photo batch so a job is reliably caught in the middle, and reporting the model
version ``PSBIR_FAKE_MODEL_VERSION``. The real engine in a real
worker is covered by tests/retrieval/test_worker.py.
"""

import os

from psbir_site.settings import *  # noqa: F403
from retrieval import engine_runtime


def _slow_fake_engine():  # noqa: ANN202 - replaces engine_runtime.build_engine
    import time

    from tests.retrieval.fakes import FakeEngine

    delay = float(os.environ.get("PSBIR_FAKE_ENGINE_DELAY", "0"))

    class SlowFakeEngine(FakeEngine):
        def embed_photos(self, images):  # noqa: ANN001, ANN202
            time.sleep(delay)
            return super().embed_photos(images)

    # Another version than the test process's engine makes a re-index embed every photo
    # again (photos already indexed at the current version are skipped).
    return SlowFakeEngine(model_version=os.environ.get("PSBIR_FAKE_MODEL_VERSION", "fake-1"))


engine_runtime.build_engine = _slow_fake_engine

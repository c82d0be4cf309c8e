from tests.retrieval.conftest import fake_engine, indexed_library, make_library  # noqa: F401

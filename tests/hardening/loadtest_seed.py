"""Seed a throw-away data dir for scripts/loadtest.py with the fake engine (see
docs/reliability.md): ``manage.py shell < tests/hardening/loadtest_seed.py`` with
DJANGO_SETTINGS_MODULE=tests.hardening.worker_settings and PSBIR_DATA_DIR set."""

from accounts.models import Tenant, User
from retrieval.services.libraries import library_create
from tests.retrieval.conftest import add_shapes

tenant, _ = Tenant.objects.get_or_create(slug="load", defaults={"name": "Load Test"})
for name, role in (("demo", "member"), ("demo-admin", "admin")):
    if not User.objects.filter(username=name).exists():
        User.objects.create_user(
            username=name, password="demo-sketch-2026", tenant=tenant, role=role
        )
library = library_create(tenant=tenant, name="Shapes")
add_shapes(library, per_shape=20)
print("seeded", library.index_size, "photos")  # noqa: T201

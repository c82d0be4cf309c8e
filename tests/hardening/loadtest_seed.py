"""Seed a throw-away data dir for scripts/loadtest.py with the fake engine (see
docs/reliability.md): ``manage.py shell < tests/hardening/loadtest_seed.py`` with
DJANGO_SETTINGS_MODULE=tests.hardening.worker_settings and PSBIR_DATA_DIR set."""

from accounts.models import Tenant, User
from retrieval.services import images as image_services
from retrieval.services import indexing
from retrieval.services.libraries import library_create
from tests.retrieval.fakes import SHAPES, shape_png

tenant, _ = Tenant.objects.get_or_create(slug="load", defaults={"name": "Load Test"})
for name, role in (("demo", "member"), ("demo-admin", "admin")):
    if not User.objects.filter(username=name).exists():
        User.objects.create_user(
            username=name, password="demo-sketch-2026", tenant=tenant, role=role
        )
library = library_create(tenant=tenant, name="Shapes")
items = [
    image_services.UploadItem(name=f"{s}-{i}.png", data=shape_png(s, seed=i))
    for s in SHAPES
    for i in range(20)
]
outcome = image_services.images_import(library=library, items=items, enqueue=False)
indexing.index_job_run(job_id=outcome.job.pk, tenant_id=tenant.pk)
library.refresh_from_db()
print("seeded", library.index_size, "photos")  # noqa: T201

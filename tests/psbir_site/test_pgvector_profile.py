"""The scale-out profile's PostgreSQL has pgvector (scripts/scaleout_services.sh builds it from
the vendored source): the extension is in the test database and computes distances."""

from __future__ import annotations

import pytest
from django.db import connection

pytestmark = pytest.mark.django_db


def test_postgresql_of_the_scale_out_profile_has_pgvector():
    if connection.vendor != "postgresql":
        pytest.skip("pgvector belongs to the scale-out profile (PostgreSQL)")
    with connection.cursor() as cursor:
        cursor.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
        assert cursor.fetchone() == ("0.8.6",)
        cursor.execute("SELECT '[1, 2, 3]'::vector <-> '[1, 2, 5]'::vector")
        assert cursor.fetchone()[0] == pytest.approx(2.0)

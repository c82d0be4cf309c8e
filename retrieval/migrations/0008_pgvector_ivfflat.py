"""pgvector: IVFFlat lists built from the loaded rows replace the HNSW graph of 0006.

The graph found 0.88 of the exact top 20 at 300,000 photos and grew at 240 rows a second;
lists built once the table is large found 0.99 at a million, built in about a minute
(``retrieval/vector_stores/pgvector_ann.py``, ``docs/benchmarks.md``). Nothing is built
here: a big index build inside a migration would hold the table; the schedule added here
(every 10 minutes, and a task after every large write) builds the lists when the table has
reached ``PSBIR_PGVECTOR_ANN_MIN_ROWS`` rows or doubled since. Until then searches scan
exactly.
"""

from django.db import migrations

from psbir_site.schedules import schedule_operation

TABLE = "retrieval_photovector"


def drop_hnsw(apps, schema_editor):
    if TABLE in schema_editor.connection.introspection.table_names():
        schema_editor.execute("DROP INDEX IF EXISTS photovector_hnsw")


def restore_hnsw(apps, schema_editor):
    if TABLE in schema_editor.connection.introspection.table_names():
        schema_editor.execute("DROP INDEX IF EXISTS photovector_ivfflat")
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS photovector_hnsw ON {TABLE} "
            "USING hnsw (vector halfvec_l2_ops) WITH (m = 32, ef_construction = 128)"
        )


class Migration(migrations.Migration):
    dependencies = [
        ("retrieval", "0007_index_chunks"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [
        migrations.RunPython(drop_hnsw, restore_hnsw),
        schedule_operation(
            "retrieval: maintain the pgvector index",
            "retrieval.tasks.maintain_vector_index",
            schedule_type="I",
            minutes=10,
        ),
    ]

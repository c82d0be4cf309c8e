"""Photo vectors in PostgreSQL (pgvector) for the scale-out profile; which store holds a
library's vectors.

The ``retrieval_photovector`` table is created only on PostgreSQL with the ``vector``
extension (installed by the operator, or created here when the role may); everywhere else the
model exists in Django's state only and FAISS files hold the vectors. Its foreign keys cascade
in the database, so deleting a photo, library or organisation removes its vectors in the same
statement (Django's collector leaves them alone: it would query a table SQLite lacks).
"""

import django.db.models.deletion
import pgvector.django
from django.db import migrations, models


def vector_extension_ready(schema_editor) -> bool:
    """True when the ``vector`` extension is (or could now be made) available."""
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_extension WHERE extname = 'vector'")
        if cursor.fetchone():
            return True
        cursor.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'vector'")
        if not cursor.fetchone():
            return False
    from django.db import DatabaseError, transaction

    try:
        with transaction.atomic(using=connection.alias):
            schema_editor.execute("CREATE EXTENSION IF NOT EXISTS vector")
    except DatabaseError:
        return False  # installed on the server but this role may not create it
    return True


def create_vector_table(apps, schema_editor):
    if not vector_extension_ready(schema_editor):
        return
    PhotoVector = apps.get_model("retrieval", "PhotoVector")
    schema_editor.create_model(PhotoVector)
    table = schema_editor.quote_name(PhotoVector._meta.db_table)
    for column, model in (
        ("image_id", apps.get_model("retrieval", "LibraryImage")),
        ("library_id", apps.get_model("retrieval", "ImageLibrary")),
        ("tenant_id", apps.get_model("accounts", "Tenant")),
    ):
        schema_editor.execute(
            f"ALTER TABLE {table} ADD CONSTRAINT photovector_{column}_fk FOREIGN KEY ({column}) "
            f"REFERENCES {schema_editor.quote_name(model._meta.db_table)} (id) ON DELETE CASCADE"
        )
    # m 32 / ef_construction 128 (pgvector's defaults are 16 / 64): sketch queries lie far
    # from every photo, and on photo-derived vectors at 100,000 the default graph found 0.92
    # of the exact top 20 even at ef_search 800; this one 0.97 at 400, 0.995 at 800
    # (docs/benchmarks.md).
    schema_editor.execute(
        f"CREATE INDEX photovector_hnsw ON {table} USING hnsw (vector halfvec_l2_ops) "
        "WITH (m = 32, ef_construction = 128)"
    )


def drop_vector_table(apps, schema_editor):
    PhotoVector = apps.get_model("retrieval", "PhotoVector")
    if PhotoVector._meta.db_table in schema_editor.connection.introspection.table_names():
        schema_editor.delete_model(PhotoVector)


def mark_faiss_libraries(apps, schema_editor):
    ImageLibrary = apps.get_model("retrieval", "ImageLibrary")
    ImageLibrary.objects.exclude(index_file="").update(index_engine="faiss")


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
        ("retrieval", "0005_query_vector_closeness"),
    ]

    operations = [
        migrations.AddField(
            model_name="imagelibrary",
            name="index_engine",
            field=models.CharField(blank=True, max_length=20),
        ),
        migrations.RunPython(mark_faiss_libraries, migrations.RunPython.noop),
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="PhotoVector",
                    fields=[
                        (
                            "image",
                            models.OneToOneField(
                                db_constraint=False,
                                on_delete=django.db.models.deletion.DO_NOTHING,
                                primary_key=True,
                                related_name="+",
                                serialize=False,
                                to="retrieval.libraryimage",
                            ),
                        ),
                        ("vector", pgvector.django.HalfVectorField(dimensions=512)),
                        (
                            "library",
                            models.ForeignKey(
                                db_constraint=False,
                                on_delete=django.db.models.deletion.DO_NOTHING,
                                related_name="+",
                                to="retrieval.imagelibrary",
                            ),
                        ),
                        (
                            "tenant",
                            models.ForeignKey(
                                db_constraint=False,
                                on_delete=django.db.models.deletion.DO_NOTHING,
                                related_name="+",
                                to="accounts.tenant",
                            ),
                        ),
                    ],
                    options={
                        "indexes": [models.Index(fields=["library"], name="photovector_library")],
                    },
                ),
            ],
            database_operations=[],
        ),
        # After the state holds the model, so RunPython's ``apps`` has it.
        migrations.RunPython(create_vector_table, drop_vector_table),
    ]

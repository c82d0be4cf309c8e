from django.db import migrations, models


def offered_first(apps, schema_editor):
    """Queries saved when one earlier search was offered keep it as their list (which now
    holds the nearest offer too)."""
    SketchQuery = apps.get_model("retrieval", "SketchQuery")
    for query in SketchQuery.objects.filter(suggested_taught__isnull=False).only(
        "id", "suggested_taught_id"
    ):
        query.suggested_taught_ids = [query.suggested_taught_id]
        query.save(update_fields=["suggested_taught_ids"])


class Migration(migrations.Migration):
    dependencies = [
        ("retrieval", "0009_query_like_taught"),
    ]

    operations = [
        migrations.AddField(
            model_name="sketchquery",
            name="suggested_taught_ids",
            field=models.JSONField(blank=True, default=list),
        ),
        migrations.RunPython(offered_first, migrations.RunPython.noop),
        migrations.RemoveField(model_name="sketchquery", name="suggested_taught"),
    ]

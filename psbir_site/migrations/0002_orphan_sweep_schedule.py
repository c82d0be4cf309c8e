"""The django-q2 schedule that deletes files no row refers to, once a day."""

from django.db import migrations

from psbir_site.schedules import schedule_operation


class Migration(migrations.Migration):
    dependencies = [
        ("psbir_site", "0001_initial"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [
        schedule_operation(
            "maintenance: sweep orphaned files", "psbir_site.tasks.sweep_orphans", schedule_type="D"
        )
    ]

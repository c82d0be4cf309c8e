"""The django-q2 schedule that puts index jobs whose worker died back on the queue."""

from django.db import migrations

from psbir_site.schedules import schedule_operation


class Migration(migrations.Migration):
    dependencies = [
        ("retrieval", "0002_job_leases"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [
        schedule_operation(
            "retrieval: recover abandoned index jobs",
            "retrieval.tasks.recover_index_jobs",
            schedule_type="I",
            minutes=1,
        )
    ]

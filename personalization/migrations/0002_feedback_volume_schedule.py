"""The django-q2 schedule that watches feedback volume (the paper's "timer for data size
monitoring"): every minute, queue training for users past PSBIR_FEEDBACK_THRESHOLD."""

from django.db import migrations

from psbir_site.schedules import schedule_operation


class Migration(migrations.Migration):
    dependencies = [
        ("personalization", "0001_initial"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [
        schedule_operation(
            "personalization: check feedback volume",
            "personalization.tasks.check_feedback_volume",
            schedule_type="I",
            minutes=1,
        )
    ]

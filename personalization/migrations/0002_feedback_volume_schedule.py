"""The django-q2 schedule that watches feedback volume (the paper's "timer for data size
monitoring"): every minute, queue training for users past PSBIR_FEEDBACK_THRESHOLD."""

from django.db import migrations

SCHEDULE_NAME = "personalization: check feedback volume"
FUNC = "personalization.tasks.check_feedback_volume"


def create_schedule(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.update_or_create(
        name=SCHEDULE_NAME,
        defaults={"func": FUNC, "schedule_type": "I", "minutes": 1, "repeats": -1},
    )


def delete_schedule(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.filter(name=SCHEDULE_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("personalization", "0001_initial"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(create_schedule, delete_schedule)]

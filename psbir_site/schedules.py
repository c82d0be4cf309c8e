"""Data-migration operations that create the project's django-q2 schedules."""

from __future__ import annotations

from typing import Any

from django.db import migrations


def schedule_operation(
    name: str, func: str, *, schedule_type: str, minutes: int | None = None
) -> migrations.RunPython:
    """A reversible operation creating (or updating) the schedule ``name`` that runs ``func``
    forever ("I" every ``minutes``, "D" daily, as in ``django_q.models.Schedule``)."""

    def create(apps: Any, schema_editor: Any) -> None:
        schedule = apps.get_model("django_q", "Schedule")
        schedule.objects.update_or_create(
            name=name,
            defaults={
                "func": func,
                "schedule_type": schedule_type,
                "minutes": minutes,
                "repeats": -1,
            },
        )

    def delete(apps: Any, schema_editor: Any) -> None:
        apps.get_model("django_q", "Schedule").objects.filter(name=name).delete()

    return migrations.RunPython(create, delete)

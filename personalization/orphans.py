"""Personal head files no head row refers to (see :mod:`psbir_site.orphans`)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

from django.conf import settings

from personalization import head_files
from personalization.models import PersonalHead
from psbir_site.orphans import unreferenced

HEAD_PATTERNS = ("tenant-*/user-*/head-v*.pt", "tenant-*/user-*/.*.tmp")


def orphan_head_files(min_age: timedelta) -> Iterator[Path]:
    # A maintenance sweep over every tenant's files: it compares paths, it serves nothing.
    referenced = {
        head_files.absolute_path(name)
        for name in PersonalHead.objects.exclude(file_path="").values_list("file_path", flat=True)
    }
    root = Path(settings.PSBIR_PERSONAL_HEAD_DIR)
    yield from unreferenced(root, HEAD_PATTERNS, referenced, min_age)

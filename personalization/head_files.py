"""Where personal head files live, and the per-process cache of loaded heads.

``PSBIR_PERSONAL_HEAD_DIR/tenant-<t>/user-<u>/head-v<n>.pt``: built from server-side ids
only. A version's file is written once (atomically, by ``save_head``) and never
changed, so a loaded head can be cached under its key for the life of the process.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.conf import settings

from personalization.engine.scoring import HeadCache

if TYPE_CHECKING:
    from torch import nn

    from personalization.models import PersonalHead

_cache = HeadCache(capacity=32)


def relative_path(*, tenant_id: int, user_id: int, version: int) -> str:
    return f"tenant-{int(tenant_id)}/user-{int(user_id)}/head-v{int(version)}.pt"


def absolute_path(relative: str) -> Path:
    root = Path(settings.PSBIR_PERSONAL_HEAD_DIR).resolve()
    path = (root / relative).resolve()
    if root not in path.parents:  # the value comes from our database; be strict anyway
        raise ValueError(f"head path escapes PSBIR_PERSONAL_HEAD_DIR: {relative!r}")
    return path


def save(head: nn.Module, *, relative: str, metadata: dict[str, Any]) -> None:
    from retrieval.engine.heads import save_head

    save_head(head, absolute_path(relative), metadata=metadata)


def _key(row: PersonalHead) -> tuple[Any, ...]:
    # (user, version) names a head; the file and creation time keep two databases that
    # reuse ids (tests, a restored backup) from sharing an entry.
    return (row.user_id, row.version, row.file_path, row.created_at.isoformat())


def load(row: PersonalHead) -> nn.Module:
    """The head of ``row`` on the configured device, loaded once per process."""

    def _load() -> nn.Module:
        from retrieval.engine.device import resolve_device
        from retrieval.engine.heads import load_head

        return load_head(absolute_path(row.file_path)).to(resolve_device(settings.PSBIR_DEVICE))

    return _cache.get(_key(row), _load)


def is_cached(row: PersonalHead) -> bool:
    return _key(row) in _cache


def clear_cache() -> None:
    _cache.clear()


def user_dir(*, tenant_id: int, user_id: int) -> Path:
    """The folder holding every head file (and unfinished temp file) of one user."""
    return absolute_path(f"tenant-{int(tenant_id)}/user-{int(user_id)}")


def delete_user_files(*, tenant_id: int, user_id: int) -> int:
    """Remove all of one user's head files, their folder with them; returns files removed.

    For a user's data deletion (call it after the head rows are gone, on commit): a file a
    still-running training writes afterwards is unreferenced and goes with the orphan sweep.
    """
    folder = user_dir(tenant_id=tenant_id, user_id=user_id)
    if not folder.is_dir():
        return 0
    removed = 0
    for path in folder.iterdir():
        if path.is_file() or path.is_symlink():
            path.unlink(missing_ok=True)
            removed += 1
    with contextlib.suppress(OSError):  # not empty: a file written meanwhile is the sweep's
        folder.rmdir()
    return removed

"""Writes about a person's own data: auditing an export, deleting it (the account stays),
deleting it with the account. Reads (summary, the zip) are in :mod:`psbir_site.user_data.export`.

What goes is what :mod:`psbir_site.user_data.export` exports: search sessions with their queries,
results and stored sketch images, feedback, personalized heads (rows and files on disk),
training jobs and the chosen w. The account, its API token and the admin log stay (the log
is the audit trail of this very deletion). Afterwards the user has no feedback, so the next
training run has nothing to train on (``personalization.training_data.collect`` raises
``NoTrainingData``) and ranking is the general one.

Files are removed once the transaction commits (a rolled-back deletion keeps them). A
training run still going when the data goes loses its job row, so it can no longer publish;
a head file it writes afterwards is unreferenced and the orphan sweep
(``psbir_site.orphan_sweep``) removes it, as it does files left by deletions that bypass these
functions (a whole organisation deleted in the Django admin).
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from accounts import audit
from psbir_site import events
from psbir_site.user_data.export import (
    DataSummary,
    own_feedback,
    own_heads,
    own_queries,
    own_sessions,
    own_settings,
    own_training_jobs,
    user_data_summary,
)


def _check_actor(*, user: Any, actor: Any) -> None:
    """Oneself, an admin of the same organisation, or platform staff in the Django admin."""
    if actor.pk == user.pk or actor.is_superuser:
        return
    if actor.is_tenant_admin and actor.tenant_id == user.tenant_id:
        return
    raise PermissionError("this user may not delete that user's data")


def _purge(user: Any) -> DataSummary:
    """Delete every row of ``user``'s data; schedule their files' removal on commit."""
    summary = user_data_summary(user=user)
    tenant_id, user_id = int(user.tenant_id), int(user.pk)
    sketch_files = [
        query.sketch_image
        for query in own_queries(user=user).exclude(sketch_image="").only("id", "sketch_image")
    ]
    had_active_head = own_heads(user=user).filter(is_active=True).exists()
    # Jobs first (they point at heads), then the heads, the marks, the sessions (their
    # queries and results go with them), queries left outside a session of theirs, and w.
    own_training_jobs(user=user).delete()
    own_heads(user=user).delete()
    own_feedback(user=user).delete()
    own_sessions(user=user).delete()
    own_queries(user=user).delete()
    own_settings(user=user).delete()

    def remove_files() -> None:
        # Here, not at the top: head_files loads torch, which the admin (this module's
        # importer at django.setup()) should not pay for.
        from personalization import head_files

        for field_file in sketch_files:
            field_file.storage.delete(field_file.name)
        head_files.delete_user_files(tenant_id=tenant_id, user_id=user_id)

    transaction.on_commit(remove_files)
    if had_active_head:
        events.publish(events.user_group(user_id), "personal_head_changed", {"version": None})
    return summary


@transaction.atomic
def user_data_delete(*, user: Any, actor: Any) -> DataSummary:
    """Delete all of ``user``'s data (the account stays); audited. Returns what went."""
    _check_actor(user=user, actor=actor)
    if user.tenant_id is None:
        return DataSummary()
    summary = _purge(user)
    audit.data_deleted(actor=actor, subject=user, what=summary.describe())
    return summary


@transaction.atomic
def user_delete(*, user: Any, actor: Any) -> DataSummary:
    """Delete ``user``'s account and all their data (files included); audited."""
    _check_actor(user=user, actor=actor)
    summary = _purge(user) if user.tenant_id is not None else DataSummary()
    audit.user_deleted(actor=actor, subject=user, what=summary.describe())
    user.delete()
    return summary


def data_export_record(*, user: Any, actor: Any) -> DataSummary:
    """Audit an export of ``user``'s data (call when the download starts)."""
    _check_actor(user=user, actor=actor)
    summary = user_data_summary(user=user)
    audit.data_exported(actor=actor, subject=user, what=summary.describe())
    return summary

"""The index consistency check and repair, for admins (the worker also repairs periodically)."""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from services.core import audit
from services.core.access.principals import Caller
from services.core.db.session import session_scope
from services.core.jobs.reconcile import DriftReport, Reconciler


def check(*, sessions: sessionmaker[Session], reconciler: Reconciler, principal: Caller, repair: bool) -> DriftReport:
    """Compare the index with the database; with `repair`, put right what disagrees (audited)."""
    principal.require_role("admin")
    report = reconciler.run(repair=repair)
    if repair:
        with session_scope(sessions) as session:
            audit.admin_action(
                session,
                principal.id,
                "index.repair",
                f"repaired the vector index: {report.drift} disagreements",
                details=report.as_dict(),
            )
    return report

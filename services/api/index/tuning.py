"""Tuning runs in the server, beside the searches it must not disturb: one at a time, on a thread of its own.

In the embedded profile only the server may open the vector shards, so `steward tune` asks it to do the work
(POST /v1/admin/index/tune) and follows its progress (GET)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, sessionmaker

from services.core import audit
from services.core.access.principals import Caller
from services.core.adaptation.gate import GateQuestion
from services.core.adaptation.service import Adaptation, TuneOptions
from services.core.db.models import Document
from services.core.db.session import session_scope
from services.core.errors import Conflict, GenerationNotFound, InvalidInput, StewardError

# (question, the documents that answer it: ids or sources)
LabelledQuestion = tuple[str, Sequence[str]]

log = logging.getLogger(__name__)


@dataclass
class TuneJob:
    started_at: datetime
    state: str = "running"  # running | done | failed
    stage: str = "starting"
    progress: float = 0.0
    finished_at: datetime | None = None
    outcome: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


class TuneRunner:
    def __init__(self, *, adaptation: Adaptation, sessions: sessionmaker[Session]) -> None:
        self._adaptation = adaptation
        self._sessions = sessions
        self._lock = threading.Lock()
        self._job: TuneJob | None = None

    def start(self, options: TuneOptions, principal: Caller, questions: Sequence[LabelledQuestion] = ()) -> TuneJob:
        """Start a tuning; `questions` are (question, document ids or sources) for the gate."""
        principal.require_role("admin")
        gate_questions = self._resolve(questions)
        with self._lock:
            if self._job is not None and self._job.state == "running":
                raise Conflict("a tuning is running already; follow it with GET /v1/admin/index/tune")
            job = self._job = TuneJob(started_at=datetime.now(UTC))
        threading.Thread(
            target=self._run, args=(job, options, gate_questions, principal.id), name="steward-tune", daemon=True
        ).start()
        return job

    def _resolve(self, questions: Sequence[LabelledQuestion]) -> list[GateQuestion]:
        """Each relevant document named by id or by source; an unknown one is an error, not a silent zero."""
        if not questions:
            return []
        names = {name for _, relevant in questions for name in relevant}
        with session_scope(self._sessions) as session:
            found = session.execute(
                select(Document.id, Document.source).where(or_(Document.id.in_(names), Document.source.in_(names)))
            ).all()
        ids = {row.id: row.id for row in found} | {row.source: row.id for row in found if row.source}
        unknown = sorted(names - ids.keys())
        if unknown:
            raise InvalidInput(f"no document with id or source {', '.join(map(repr, unknown[:5]))}")
        return [GateQuestion(question, frozenset(ids[name] for name in relevant)) for question, relevant in questions]

    def status(self, principal: Caller) -> TuneJob:
        principal.require_role("admin")
        if self._job is None:
            raise GenerationNotFound("no tuning has run since the server started")
        return self._job

    def _run(self, job: TuneJob, options: TuneOptions, questions: list[GateQuestion], admin_id: str) -> None:
        def progress(stage: str, done: float) -> None:
            job.stage, job.progress = stage, round(min(max(done, 0.0), 1.0), 3)

        try:
            outcome = self._adaptation.tune(options, questions=questions, progress=progress)
            job.outcome = {
                "model": outcome.model,
                "generation_id": outcome.generation_id,
                "state": outcome.state,
                "report": outcome.report,
            }
            job.state = "done"
            summary = f"tuned encoder {outcome.model}: generation {outcome.state}"
        except StewardError as exc:
            job.state, job.error = "failed", exc.message
            summary = f"tuning failed: {exc.message}"
        except Exception as exc:  # a training or index error: the live index is untouched, the job says why
            log.exception("tuning failed")
            job.state, job.error = "failed", f"{type(exc).__name__}: {exc}"
            summary = f"tuning failed: {job.error}"
        job.finished_at = datetime.now(UTC)
        with session_scope(self._sessions) as session:
            audit.admin_action(session, admin_id, "index.tune", summary, details={"outcome": job.outcome})

"""Admin routes for the vector index: its consistency with the database (`steward doctor`), and its generations:
tuning the encoder, re-indexing with it, rollback (`steward tune`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool

from services.api.deps import AdaptationDep, AdminCaller, ReconcilerDep, SessionsDep
from services.api.index import service
from services.api.index.schemas import DriftOut, GenerationOut, RollbackOut, TuneIn, TuneJobOut
from services.api.index.tuning import TuneRunner
from services.core import audit
from services.core.adaptation import records
from services.core.adaptation.service import TuneOptions
from services.core.adaptation.training import TrainingConfig
from services.core.db.session import session_scope

router = APIRouter(prefix="/v1/admin/index", tags=["admin"])


@router.get("/drift", response_model=DriftOut)
async def index_drift(sessions: SessionsDep, reconciler: ReconcilerDep, principal: AdminCaller) -> DriftOut:
    """Where the vector index and the database disagree (admin); changes nothing."""
    report = await run_in_threadpool(
        lambda: service.check(sessions=sessions, reconciler=reconciler, principal=principal, repair=False)
    )
    return DriftOut.model_validate(report.as_dict())


@router.post("/repair", response_model=DriftOut)
async def repair_index(sessions: SessionsDep, reconciler: ReconcilerDep, principal: AdminCaller) -> DriftOut:
    """Repair every disagreement (admin): orphans and leftovers removed, access set to the row's, documents
    with missing chunks queued again. Returns what was found; the repair is audited."""
    report = await run_in_threadpool(
        lambda: service.check(sessions=sessions, reconciler=reconciler, principal=principal, repair=True)
    )
    return DriftOut.model_validate(report.as_dict())


def _tuning(request: Request) -> TuneRunner:
    """The app's one runner (the app factory builds it): it holds the tuning in progress."""
    runner: TuneRunner = request.app.state.tuning
    return runner


TuningDep = Annotated[TuneRunner, Depends(_tuning)]


@router.get("/generations", response_model=list[GenerationOut])
async def list_generations(sessions: SessionsDep, principal: AdminCaller) -> list[GenerationOut]:
    """Every index generation, newest first (admin): the live one, those being built, retired and rejected."""
    principal.require_role("admin")

    def rows() -> list[GenerationOut]:
        with session_scope(sessions) as session:
            return [GenerationOut.model_validate(row, from_attributes=True) for row in records.all_generations(session)]

    return await run_in_threadpool(rows)


@router.post("/tune", response_model=TuneJobOut, status_code=202)
async def start_tuning(body: TuneIn, tuning: TuningDep, principal: AdminCaller) -> TuneJobOut:
    """Tune the encoder on the indexed documents, re-index with it in the background and switch when it ranks no
    worse on held-out documents (admin). Searches keep using the live index throughout. 409 while one runs."""
    options = TuneOptions(
        training=TrainingConfig(epochs=body.epochs, learning_rate=body.learning_rate, time_budget_s=body.time_budget_s),
        max_pairs=body.max_pairs,
        held_out=body.held_out,
        switch=body.switch,
        generated_questions=body.generated_questions,
    )
    questions = [(q.question, q.relevant) for q in body.questions]
    job = await run_in_threadpool(tuning.start, options, principal, questions)
    return TuneJobOut.model_validate(job, from_attributes=True)


@router.get("/tune", response_model=TuneJobOut)
async def tuning_status(tuning: TuningDep, principal: AdminCaller) -> TuneJobOut:
    """The latest tuning's stage and progress (admin); 404 when none ran since the server started."""
    return TuneJobOut.model_validate(tuning.status(principal), from_attributes=True)


@router.post("/rollback", response_model=RollbackOut)
async def rollback(adaptation: AdaptationDep, sessions: SessionsDep, principal: AdminCaller) -> RollbackOut:
    """Make the previous index generation live again, with what changed since carried over (admin, audited)."""
    principal.require_role("admin")
    outcome = await run_in_threadpool(adaptation.rollback)

    def record() -> None:
        with session_scope(sessions) as session:
            audit.admin_action(session, principal.id, "index.rollback", f"rolled back to {outcome.model}")

    await run_in_threadpool(record)
    return RollbackOut(
        model=outcome.model, generation_id=outcome.generation_id, state=outcome.state, report=outcome.report
    )

"""The index generations as rows: which one is live, which are building, what a rollback goes back to.

The switch is one transaction (the live row retired, the new one made live), so every process that reads the
live row afterwards sees the new collection and encoder together: an alias, kept in the database so the API,
the workers and the CLI of either profile agree on it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.core.db.models import IndexGeneration, utcnow
from services.core.errors import Conflict, GenerationNotFound

BUILDING, LIVE, RETIRED, REJECTED, FAILED = "building", "live", "retired", "rejected", "failed"
# A build writes a heartbeat at least this often; one silent for STALE_AFTER_S died with its process.
HEARTBEAT_S = 15.0
STALE_AFTER_S = 300.0


@dataclass(frozen=True)
class GenerationRef:
    """Which encoder and collection; `id` None for the installation's first collection (no row yet)."""

    model: str
    collection: str
    id: str | None = None
    # The relevance floor on this encoder's scale; None: the configured one (adaptation/floor.py).
    min_relevance: float | None = None


def ref_of(row: IndexGeneration) -> GenerationRef:
    return GenerationRef(row.model, row.collection, row.id, row.min_relevance)


def live(session: Session) -> IndexGeneration | None:
    return session.scalars(select(IndexGeneration).where(IndexGeneration.state == LIVE)).first()


def live_ref(session: Session, base: GenerationRef) -> GenerationRef:
    row = live(session)
    return ref_of(row) if row else base


def all_generations(session: Session) -> list[IndexGeneration]:
    return list(session.scalars(select(IndexGeneration).order_by(IndexGeneration.created_at.desc())))


def get(session: Session, generation_id: str) -> IndexGeneration:
    row = session.get(IndexGeneration, generation_id)
    if row is None:
        raise GenerationNotFound(f"no index generation {generation_id!r}")
    return row


def abandon_stale(session: Session, *, stale_after_s: float = STALE_AFTER_S) -> list[str]:
    """Mark `failed` every building generation whose process stopped (no heartbeat for `stale_after_s`);
    returns their collections, for the caller to delete."""
    cutoff = utcnow() - timedelta(seconds=stale_after_s)
    abandoned = []
    for row in session.scalars(select(IndexGeneration).where(IndexGeneration.state == BUILDING)):
        seen = row.heartbeat_at or row.created_at
        if seen < cutoff:
            row.state = FAILED
            row.error = f"abandoned: the process building it stopped (no progress since {seen:%Y-%m-%d %H:%M:%S} UTC)"
            abandoned.append(row.collection)
    return abandoned


def beat(session: Session, generation_id: str, points: int) -> None:
    """The builder is alive, and this far."""
    row = get(session, generation_id)
    row.heartbeat_at, row.points = utcnow(), points


def start(session: Session, *, model: str, collection: str, base: GenerationRef) -> IndexGeneration:
    """A new generation, `building`. Only one builds at a time: two would race for the switch."""
    if session.scalars(select(IndexGeneration).where(IndexGeneration.state == BUILDING)).first() is not None:
        raise Conflict("another index generation is being built; wait for it to end (GET /v1/admin/index/generations)")
    _ensure_base_row(session, base)
    row = IndexGeneration(
        model=model, collection=collection, state=BUILDING, points=0, report={}, heartbeat_at=utcnow()
    )
    session.add(row)
    session.flush()
    return row


def finish(
    session: Session, generation_id: str, *, state: str, points: int, report: dict[str, Any], error: str | None = None
) -> IndexGeneration:
    row = get(session, generation_id)
    row.state, row.points, row.report, row.error = state, points, dict(report), error
    return row


def set_floor(session: Session, generation_id: str, min_relevance: float | None) -> None:
    get(session, generation_id).min_relevance = min_relevance


def switch(session: Session, generation_id: str, *, base: GenerationRef) -> IndexGeneration:
    """Make a built (or retired) generation live and retire the live one, in the caller's transaction."""
    _ensure_base_row(session, base)
    row = get(session, generation_id)
    if row.state not in (BUILDING, RETIRED):
        raise Conflict(f"generation {generation_id} is {row.state}; only a built or retired one can go live")
    current = live(session)
    if current is not None and current.id != row.id:
        current.state = RETIRED
        session.flush()  # one live row at a time, even for a moment
    row.state, row.switched_at = LIVE, utcnow()
    return row


def previous(session: Session) -> IndexGeneration:
    """What a rollback makes live again: the generation retired most recently."""
    retired = session.scalars(
        select(IndexGeneration)
        .where(IndexGeneration.state == RETIRED, IndexGeneration.switched_at.is_not(None))
        .order_by(IndexGeneration.switched_at.desc())
    ).first()
    if retired is None:
        raise GenerationNotFound("no earlier index generation to roll back to")
    return retired


def _ensure_base_row(session: Session, base: GenerationRef) -> None:
    """The first collection gets its row when a second one appears, so a rollback can return to it."""
    if session.scalars(select(IndexGeneration).where(IndexGeneration.collection == base.collection)).first():
        return
    has_live = live(session) is not None
    session.add(
        IndexGeneration(
            model=base.model,
            collection=base.collection,
            state=RETIRED if has_live else LIVE,
            points=0,
            report={},
            switched_at=datetime(1970, 1, 1) if has_live else utcnow(),
        )
    )
    session.flush()

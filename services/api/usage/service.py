"""Usage per day, group and site, read from the `chat.request` audit rows; the ingestion queue's state."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.core.access.principals import Caller
from services.core.db.models import AuditEvent, Document, Group, IngestJob, Site, utcnow

TOP_DOCUMENTS = 10
THROUGHPUT_WINDOW = timedelta(minutes=10)


def _percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile; None without values."""
    if not values:
        return None
    ordered = sorted(values)
    return float(ordered[max(0, math.ceil(q * len(ordered)) - 1)])


def _tokens(details: dict[str, Any]) -> int:
    return int(details.get("prompt_tokens") or 0) + int(details.get("completion_tokens") or 0)


def usage(*, session: Session, principal: Caller, days: int, group: str | None, site: str | None) -> dict[str, Any]:
    principal.require_role("admin")
    today = utcnow().date()
    first = today - timedelta(days=days - 1)
    since = datetime(first.year, first.month, first.day, tzinfo=utcnow().tzinfo)
    rows = session.execute(
        select(AuditEvent.created_at, AuditEvent.details).where(
            AuditEvent.action == "chat.request", AuditEvent.created_at >= since
        )
    ).tuples()
    per_day: dict[date, list[dict[str, Any]]] = defaultdict(list)
    groups: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    sites: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    cited: Counter[str] = Counter()
    for created_at, details in rows:
        details = details or {}
        if group and group not in (details.get("groups") or []):
            continue
        if site and details.get("site") != site:
            continue
        per_day[created_at.date()].append(details)
        tokens = _tokens(details)
        for name in details.get("groups") or []:
            groups[name][0] += 1
            groups[name][1] += tokens
        if details.get("site"):
            sites[details["site"]][0] += 1
            sites[details["site"]][1] += tokens
        cited.update(details.get("cited_document_ids") or [])
    day_rows = []
    for offset in range(days):
        day = first + timedelta(days=offset)
        requests = per_day.get(day, [])
        latencies = [float(d["latency_ms"]) for d in requests if d.get("latency_ms") is not None]
        not_found = sum(1 for d in requests if d.get("outcome") == "no_sources")
        day_rows.append(
            {
                "day": day.isoformat(),
                "requests": len(requests),
                "tokens": sum(_tokens(d) for d in requests),
                "refusals": sum(1 for d in requests if d.get("outcome") == "refused"),
                "not_found": not_found,
                "idk_rate": round(not_found / len(requests), 4) if requests else 0.0,
                "latency_p50_ms": _percentile(latencies, 0.5),
                "latency_p95_ms": _percentile(latencies, 0.95),
            }
        )
    top = cited.most_common(TOP_DOCUMENTS)
    titles = dict(
        session.execute(select(Document.id, Document.title).where(Document.id.in_([d for d, _ in top]))).tuples().all()
    )
    site_names = dict(session.execute(select(Site.id, Site.name)).tuples().all())
    return {
        "days": day_rows,
        # A deleted document still counts, under its id.
        "top_documents": [{"document_id": d, "title": titles.get(d, d), "citations": n} for d, n in top],
        "by_group": [{"group": g, "requests": r, "tokens": t} for g, (r, t) in sorted(groups.items())],
        "by_site": [{"site": site_names.get(s, s), "requests": r, "tokens": t} for s, (r, t) in sorted(sites.items())],
        "groups": list(session.scalars(select(Group.name).order_by(Group.name))),
        "sites": [{"id": i, "name": n} for i, n in sorted(site_names.items(), key=lambda item: item[1])],
    }


def queue(*, session: Session, principal: Caller) -> dict[str, Any]:
    """How many documents wait, run, failed and are ready; documents finished per minute lately; the failures."""
    principal.require_role("admin")
    counts = dict(session.execute(select(Document.status, func.count()).group_by(Document.status)).tuples().all())
    since = utcnow() - THROUGHPUT_WINDOW
    finished = (
        session.scalar(select(func.count()).where(IngestJob.status == "succeeded", IngestJob.finished_at >= since)) or 0
    )
    failed = session.scalars(
        select(Document).where(Document.status == "failed").order_by(Document.updated_at.desc()).limit(20)
    )
    return {
        "queued": counts.get("queued", 0),
        "processing": counts.get("processing", 0),
        "failed": counts.get("failed", 0),
        "ready": counts.get("ready", 0),
        "throughput_per_min": round(finished / (THROUGHPUT_WINDOW.total_seconds() / 60), 2),
        "failed_jobs": [
            {"document_id": d.id, "title": d.title, "error": d.error, "finished_at": d.updated_at} for d in failed
        ],
    }

"""Re-embedding a collection into another with another encoder, while the first one keeps serving.

`copy_into` re-embeds every stored chunk from its stored text (what the encoder sees: title, heading path and
text) and keeps everything else exactly: the sparse vector, the access payload, the injection scan. Ingestion
and access changes go on meanwhile in the source; `catch_up` then brings the target level with it: missing
points copied, changed payloads set, vanished points removed. A switch runs one last catch-up with this
process's writes held back (live.py), and the reconciler repairs anything another process wrote in between
(the database, not the index, is the truth for chunks and access)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TypeVar

from services.core.embedding.context import embedded_text
from services.core.vectorstore.port import StoredPoint, VectorStore

T = TypeVar("T")
Embed = Callable[[Sequence[str]], list[list[float]]]
# Chunks re-embedded at a time: a full pass for each encoder replica.
BATCH = 64


@dataclass(frozen=True)
class CatchUp:
    copied: int
    updated: int
    removed: int

    @property
    def changes(self) -> int:
        return self.copied + self.updated + self.removed


def copy_into(
    *,
    source: VectorStore,
    target: VectorStore,
    embed: Embed,
    progress: Callable[[int], None] | None = None,
    only: Iterable[str] | None = None,
) -> int:
    """Every point of `source` (or those with an id in `only`, read by id) into `target`, re-embedded; returns
    how many."""
    if only is None:
        points: Iterable[StoredPoint] = source.export_points()
    else:
        points = (p for ids in _pages(sorted(only), BATCH) for p in source.points(ids))
    done = 0
    for page in _pages(points, BATCH):
        vectors = embed([_text(p) for p in page])
        target.import_points([StoredPoint(p.id, v, p.sparse, p.payload) for p, v in zip(page, vectors, strict=True)])
        done += len(page)
        if progress is not None:
            progress(done)
    return done


def catch_up(*, source: VectorStore, target: VectorStore, embed: Embed) -> CatchUp:
    """Make `target` hold what `source` holds now (payloads compared without the text)."""
    have = dict(source.scan())
    held = dict(target.scan())
    missing = {pid for pid in have if pid not in held}
    extra = [pid for pid in held if pid not in have]
    changed = {pid: payload for pid, payload in have.items() if pid in held and held[pid] != payload}
    copied = copy_into(source=source, target=target, embed=embed, only=missing) if missing else 0
    if changed:
        target.set_payloads(changed)
    if extra:
        target.delete_points(extra)
    return CatchUp(copied, len(changed), len(extra))


def converge(
    *, source: VectorStore, target: VectorStore, embed: Embed, passes: int = 3, quiet: int = 10
) -> list[CatchUp]:
    """Catch up until a pass changes at most `quiet` points (or `passes` ran): a busy source keeps moving."""
    rounds = []
    for _ in range(passes):
        started = time.perf_counter()
        rounds.append(catch_up(source=source, target=target, embed=embed))
        if rounds[-1].changes <= quiet or time.perf_counter() - started < 0.01:
            break
    return rounds


def _text(point: StoredPoint) -> str:
    p = point.payload
    return embedded_text(str(p.get("title", "")), str(p.get("heading", "")), str(p.get("text", "")))


def _pages(items: Iterable[T], size: int) -> Iterator[list[T]]:
    page: list[T] = []
    for item in items:
        page.append(item)
        if len(page) == size:
            yield page
            page = []
    if page:
        yield page

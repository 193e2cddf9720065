"""Injection rules applied: questions (deny or flag) and retrieved chunks (drop, neutralise or flag).

What scores a text is an `InjectionScreen`: in a running server the learned model over the sentence embedding
(services/core/policy/injection_model.py), whose tuned cut-offs a rule names as `threshold: tuned`; without an
embedder (unit tests of rules) the regex heuristics alone. Either way the result keeps the heuristic matches,
so a decision can say which phrases looked like an injection and `neutralise` knows what to cut.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Protocol

from services.core.policy.decision import PolicyDecision
from services.core.policy.injection import REMOVED, InjectionScore, detect, neutralise
from services.core.policy.injection_model import DOCUMENT, QUESTION, WINDOWS, InjectionModel
from services.core.policy.model import InjectionRule
from services.core.vectorstore import ScoredChunk

Vector = Sequence[float]
Embed = Callable[[Sequence[str]], list[list[float]]]


class InjectionScreen(Protocol):
    def score(self, texts: Sequence[str], vectors: Sequence[Vector | None], kind: str) -> list[InjectionScore]:
        """One score per text (0..1, higher is more like an injection); `kind` is question or document."""

    def tuned(self, kind: str) -> float:
        """The threshold this screen was tuned to for `kind` (what `threshold: tuned` in a rule means)."""


class HeuristicScreen:
    """The regex detector alone: no model, no embeddings."""

    def score(self, texts: Sequence[str], vectors: Sequence[Vector | None], kind: str) -> list[InjectionScore]:
        return [detect(text) for text in texts]

    def tuned(self, kind: str) -> float:
        return 0.5


class ModelScreen:
    """The learned detector; texts without a vector at hand (a neutralised chunk, say) are embedded here."""

    def __init__(self, model: InjectionModel, embed: Embed, embed_one: Callable[[str], list[float]]) -> None:
        self._model = model
        self._embed = embed
        self._embed_one = embed_one  # the question's embedding, shared with retrieval (the embedder caches it)

    def score(self, texts: Sequence[str], vectors: Sequence[Vector | None], kind: str) -> list[InjectionScore]:
        missing = [i for i, v in enumerate(vectors) if v is None]
        filled: list[Vector | None] = list(vectors)
        if len(missing) == 1:
            filled[missing[0]] = self._embed_one(texts[missing[0]])
        elif missing:
            for i, vector in zip(missing, self._embed([texts[i] for i in missing]), strict=True):
                filled[i] = vector
        return list(self._model.detect_many(texts, [list(v or ()) for v in filled], kind))

    def tuned(self, kind: str) -> float:
        return self._model.threshold(kind)


class InjectionScanner:
    """Ingestion's half of the detector: each chunk scored by its most suspicious sentence or run of lines
    (the window head), stored with the chunk so retrieval reads it for free.

    The window head finds a quiet instruction inside an ordinary passage that the one-vector-per-chunk head
    misses, at a fraction of its false alarms (docs/governance.md); it embeds every window, about three times
    the chunk's own embedding, which ingestion can afford and a question's time to first token cannot."""

    def __init__(self, model: InjectionModel, embed: Embed) -> None:
        self._model = model
        self._embed = embed

    def __call__(self, texts: Sequence[str], vectors: Sequence[Vector] | None = None) -> list[tuple[float, str]]:
        """(score, the window that scored highest) per chunk text; `vectors` are the chunks' own (embedded
        here when not given)."""
        given = [list(v) for v in vectors] if vectors is not None else None
        scored = self._model.score_documents(texts, self._embed, given)
        return [(found.score, found.window) for found in scored]


def stored_score(chunk: ScoredChunk, screen: InjectionScreen) -> InjectionScore | None:
    """The ingestion-time window score of a chunk, on the document head's scale, or None if it has none.

    Rules name one threshold for retrieved chunks (`tuned` or a number on the document head's scale), so the
    window score is mapped piecewise-linearly to put its tuned cut-off where the document head's is: `tuned`
    means each head's own tuned threshold, and the order of scores is kept."""
    if chunk.injection_score is None:
        return None
    raw, window_cut, document_cut = chunk.injection_score, screen.tuned(WINDOWS), screen.tuned(DOCUMENT)
    if raw < window_cut:
        mapped = raw * document_cut / window_cut
    else:
        mapped = document_cut + (raw - window_cut) * (1 - document_cut) / max(1 - window_cut, 1e-9)
    heuristic = detect(chunk.text)
    where = f": {chunk.injection_window[:120]!r}" if chunk.injection_window else ""
    reason = f"model ({WINDOWS}, at ingestion): {raw:.4f} against its threshold {window_cut:.4f}{where}"
    return InjectionScore(round(mapped, 4), [reason, *heuristic.reasons], heuristic.matches)


def threshold(rule: InjectionRule, screen: InjectionScreen, kind: str) -> float:
    return screen.tuned(kind) if rule.threshold == "tuned" else float(rule.threshold)


def _signals(found: InjectionScore) -> list[str]:
    return sorted({m.signal for m in found.matches})


def screen_question(
    rules: Sequence[InjectionRule], question: str, screen: InjectionScreen, vector: Vector | None = None
) -> list[PolicyDecision]:
    """One decision per input rule the question trips: "deny" (refuse) or "flag" (answer, but audit)."""
    stage_rules = [rule for rule in rules if rule.stage == "input"]
    if not stage_rules:
        return []
    (found,) = screen.score([question], [vector], QUESTION)
    decisions: list[PolicyDecision] = []
    for rule in stage_rules:
        cut = threshold(rule, screen, QUESTION)
        if found.score >= cut:
            decisions.append(
                PolicyDecision(
                    rule_id=rule.id,
                    stage="input",
                    decision="deny" if rule.action == "deny" else "flag",
                    reason=f"question looks like prompt injection (score {found.score} >= {cut:.4f}): "
                    + "; ".join(found.reasons),
                    message=rule.refusal,
                    details={"score": found.score, "threshold": cut, "signals": _signals(found)},
                )
            )
    return decisions


def screen_chunks(
    rules: Sequence[InjectionRule], chunks: Sequence[ScoredChunk], screen: InjectionScreen
) -> tuple[list[ScoredChunk], list[PolicyDecision]]:
    """The chunks that may go into the prompt (some neutralised) and one decision per suspicious chunk and rule.

    Rules apply in file order; a dropped chunk is gone for the rules after it, and a neutralised one is
    checked again as its neutralised text (so a later `flag` rule sees what the model will see)."""
    stage_rules = [rule for rule in rules if rule.stage == "retrieval"]
    if not stage_rules or not chunks:
        return list(chunks), []
    stored = [stored_score(c, screen) for c in chunks]
    unscanned = [c for c, found in zip(chunks, stored, strict=True) if found is None]
    fresh = iter(screen.score([c.text for c in unscanned], [c.vector for c in unscanned], DOCUMENT))
    scores = [found if found is not None else next(fresh) for found in stored]
    kept: list[ScoredChunk] = []
    decisions: list[PolicyDecision] = []
    for chunk, first in zip(chunks, scores, strict=True):
        current: ScoredChunk | None = chunk
        found = first
        for rule in stage_rules:
            assert current is not None
            cut = threshold(rule, screen, DOCUMENT)
            if found.score < cut:
                continue
            details = {
                "chunk_id": chunk.id,
                "document_id": chunk.document_id,
                "score": found.score,
                "threshold": cut,
                "signals": _signals(found),
            }
            reason = f"chunk {chunk.id} looks like prompt injection (score {found.score} >= {cut:.4f}): " + "; ".join(
                found.reasons
            )
            decisions.append(PolicyDecision(rule.id, "retrieval", rule.action, reason, details=details))
            if rule.action == "drop":
                current = None
                break
            if rule.action == "neutralise":
                text = neutralise(current.text, found)
                if chunk.injection_window and chunk.injection_window != chunk.text:
                    text = text.replace(chunk.injection_window, REMOVED)  # the sentence the window head found
                if text != current.text:
                    current = dataclasses.replace(current, text=text, vector=None, injection_score=None)
                    (found,) = screen.score([text], [None], DOCUMENT)
        if current is not None:
            kept.append(current)
    return kept, decisions

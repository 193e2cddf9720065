"""Injection rules applied: questions (deny or flag) and retrieved chunks (drop, neutralise or flag)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from services.core.policy.decision import PolicyDecision
from services.core.policy.injection import detect, neutralise
from services.core.policy.model import InjectionRule
from services.core.vectorstore import ScoredChunk


def screen_question(rules: Sequence[InjectionRule], question: str) -> list[PolicyDecision]:
    """One decision per input rule the question trips: "deny" (refuse) or "flag" (answer, but audit)."""
    decisions: list[PolicyDecision] = []
    found = None
    for rule in rules:
        if rule.stage != "input":
            continue
        found = found or detect(question)
        if found.suspicious(rule.threshold):
            decisions.append(
                PolicyDecision(
                    rule_id=rule.id,
                    stage="input",
                    decision="deny" if rule.action == "deny" else "flag",
                    reason=f"question looks like prompt injection (score {found.score}): {'; '.join(found.reasons)}",
                    message=rule.refusal,
                    details={"score": found.score, "signals": sorted({m.signal for m in found.matches})},
                )
            )
    return decisions


def screen_chunks(
    rules: Sequence[InjectionRule], chunks: Sequence[ScoredChunk]
) -> tuple[list[ScoredChunk], list[PolicyDecision]]:
    """The chunks that may go into the prompt (some neutralised) and one decision per suspicious chunk and rule.

    Rules apply in file order; a dropped chunk is gone for the rules after it, and a neutralised one is
    checked again as its neutralised text (so a later `flag` rule sees what the model will see)."""
    stage_rules = [rule for rule in rules if rule.stage == "retrieval"]
    kept: list[ScoredChunk] = []
    decisions: list[PolicyDecision] = []
    for chunk in chunks:
        current: ScoredChunk | None = chunk
        for rule in stage_rules:
            assert current is not None
            found = detect(current.text)
            if not found.suspicious(rule.threshold):
                continue
            signals = sorted({m.signal for m in found.matches})
            details = {"chunk_id": chunk.id, "document_id": chunk.document_id, "score": found.score, "signals": signals}
            reason = f"chunk {chunk.id} looks like prompt injection (score {found.score}): {'; '.join(found.reasons)}"
            decisions.append(PolicyDecision(rule.id, "retrieval", rule.action, reason, details=details))
            if rule.action == "drop":
                current = None
                break
            if rule.action == "neutralise":
                current = dataclasses.replace(current, text=neutralise(current.text, found))
        if current is not None:
            kept.append(current)
    return kept, decisions

"""Trying a text against the policy set in force: every decision it would take, without answering."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal

from services.core.access.principals import Caller
from services.core.errors import InvalidInput
from services.core.pii import PiiGuard
from services.core.pii.detector import PiiSpan
from services.core.policy import ReloadablePolicies
from services.core.policy.decision import PolicyDecision
from services.core.policy.injection_model import DOCUMENT, QUESTION
from services.core.policy.screening import InjectionScanner, stored_score
from services.core.vectorstore import ScoredChunk

Stage = Literal["question", "document"]
MAX_TEXT = 20_000  # characters: a long chunk; whole documents are chunked before they are screened


@dataclass(frozen=True)
class Screening:
    stage: Stage
    injection_score: float
    injection_threshold: float
    injection_reasons: list[str]
    decisions: list[PolicyDecision]
    pii: list[PiiSpan]


def screen(
    *,
    text: str,
    stage: Stage,
    caller: Caller,
    policies: ReloadablePolicies,
    pii: PiiGuard,
    scanner: InjectionScanner | None,
) -> Screening:
    """What the rules in force decide for `text` as a question or as a retrieved chunk (scored the way
    ingestion scores it when the scan at ingestion is on), and the personal data the detector finds in it."""
    caller.require_role("admin")
    if not text.strip():
        raise InvalidInput("text is empty: give the question or the passage to screen")
    if len(text) > MAX_TEXT:
        raise InvalidInput(f"text is {len(text)} characters; screen at most {MAX_TEXT} (one chunk) at a time")
    engine = policies.engine
    if stage == "question":
        topic = engine.check_input(text)
        decisions = ([topic] if topic else []) + engine.screen_input(text)
        (found,) = engine.screen.score([text], [None], QUESTION)
        threshold = engine.screen.tuned(QUESTION)
    else:
        chunk = ScoredChunk(
            id="screen", score=1.0, document_id="screen", chunk_index=0, title="", heading="", text=text
        )
        if scanner is not None:
            # The window score ingestion would store: the text then takes the path a retrieved chunk takes.
            ((window_score, window),) = scanner([text])
            chunk = dataclasses.replace(chunk, injection_score=window_score, injection_window=window)
        decisions = engine.screen_chunks([chunk])[1]
        stored = stored_score(chunk, engine.screen)
        (found,) = [stored] if stored is not None else engine.screen.score([text], [None], DOCUMENT)
        threshold = engine.screen.tuned(DOCUMENT)
    spans = pii.detector.detect(text)
    return Screening(stage, round(found.score, 4), round(threshold, 4), list(found.reasons), decisions, spans)

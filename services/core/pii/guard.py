"""What the PII settings ask for, in one object the runtime holds: which texts get redacted, and how.

The detector is loaded on first use, so a process with every PII setting off never loads spaCy."""

from __future__ import annotations

import threading
from collections.abc import Sequence

from services.core.pii.detector import PiiDetector, load_detector
from services.core.pii.redactor import Placeholders, ScopeBook, redact
from services.core.settings import Settings


class PiiGuard:
    def __init__(self, settings: Settings) -> None:
        self.min_score = settings.pii_min_score
        # redact_stored: chunks are redacted before they are embedded and stored (the original is never indexed).
        self.redact_stored = settings.pii_ingestion == "redact_stored"
        # redact_output: the index keeps the original; search results, citations and answers are redacted.
        self.redact_output = settings.pii_ingestion == "redact_output"
        self.redact_answers = self.redact_output or settings.pii_answers == "redact"
        self.redact_questions = settings.pii_questions == "redact"
        self.conversations = ScopeBook(settings.pii_conversation_cache)

    @property
    def enabled(self) -> bool:
        return self.redact_stored or self.redact_answers or self.redact_questions

    def warm_up(self) -> None:
        """Load the detector in the background (seconds of spaCy start-up) so the first request need not."""
        threading.Thread(target=load_detector, args=(self.min_score,), name="pii-warm-up", daemon=True).start()

    @property
    def detector(self) -> PiiDetector:
        return load_detector(self.min_score)

    def redact(self, text: str, placeholders: Placeholders | None = None) -> str:
        """`text` redacted; placeholders from `placeholders` (a conversation's), else numbered afresh."""
        if not text:
            return text
        return redact(text, self.detector.detect(text), placeholders if placeholders is not None else Placeholders())

    def redact_many(self, texts: Sequence[str], placeholders: Placeholders | None = None) -> list[str]:
        """Several texts sharing one numbering (a document's chunks, a response's citations), spaCy batched."""
        scope = placeholders if placeholders is not None else Placeholders()
        spans = self.detector.detect_many(texts)
        return [redact(text, found, scope) for text, found in zip(texts, spans, strict=True)]

    def conversation(self, conversation_id: str) -> Placeholders:
        return self.conversations.scope(conversation_id)

    def question(self, text: str) -> str:
        """A question (or a query made from it) as the audit log and the unanswered list keep it
        (settings.pii_questions): redacted, placeholders numbered afresh, or unchanged when that is off."""
        return self.redact(text) if self.redact_questions and text else text

    def output(self, text: str, conversation_id: str | None = None) -> str:
        """An answer as the caller sees it: redacted when answers are, else unchanged."""
        if not self.redact_answers:
            return text
        return self.redact(text, self.conversation(conversation_id) if conversation_id else None)

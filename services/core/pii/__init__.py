"""Personal data: detection (presidio + spaCy, offline), stable placeholders, and the policy that applies
them at ingestion, to questions in the audit log, and to answers (docs/governance.md, "PII")."""

from __future__ import annotations

from services.core.pii.detector import ENTITIES, LABELS, PiiDetector, PiiSpan, load_detector
from services.core.pii.guard import PiiGuard
from services.core.pii.redactor import Placeholders, ScopeBook, redact

__all__ = [
    "ENTITIES",
    "LABELS",
    "PiiDetector",
    "PiiGuard",
    "PiiSpan",
    "Placeholders",
    "ScopeBook",
    "install_question_redactor",
    "load_detector",
    "redact",
    "redact_question",
    "uninstall_question_redactor",
]

# The audit log's question hook has no runtime at hand; the runtime installs its guard here when built.
_question_guard: PiiGuard | None = None


def install_question_redactor(guard: PiiGuard | None) -> None:
    """Questions written to the audit log (and the unanswered list) go through `guard` from now on;
    None (questions policy off) leaves them as asked. The last runtime built in the process decides."""
    global _question_guard
    _question_guard = guard if guard is not None and guard.redact_questions else None


def uninstall_question_redactor(guard: PiiGuard) -> None:
    """A closing runtime takes its guard back out, so it does not outlive it (later code, other tests)."""
    global _question_guard
    if _question_guard is guard:
        _question_guard = None


def redact_question(text: str) -> str:
    guard = _question_guard
    return text if guard is None or not text else guard.redact(text)

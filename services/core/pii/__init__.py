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
    "load_detector",
    "redact",
]

"""Placeholders for personal data: <EMAIL_1>, <PERSON_2> ..., the same value always the same placeholder
within one scope (a conversation, a document), numbered independently in each scope."""

from __future__ import annotations

import re
import threading
from collections import Counter, OrderedDict
from collections.abc import Sequence

from services.core.pii.detector import LABELS, PiiSpan

# Spacing and punctuation inside a number do not make it another number: "+49 30 123" is "+49-30-123".
_NOISE = re.compile(r"[\s\-().\u00a0/]")


def _key(entity: str, value: str) -> tuple[str, str]:
    if entity in ("EMAIL_ADDRESS", "PERSON"):
        return entity, " ".join(value.casefold().split())
    compact = _NOISE.sub("", value.casefold().replace("(0)", ""))  # "+44 (0)20 ..." dials as "+44 20 ..."
    if entity == "PHONE_NUMBER" and compact.startswith("00"):
        compact = "+" + compact[2:]  # 0044 ... is how Europe dials +44 ...
    return entity, compact


class Placeholders:
    """One scope's value -> placeholder map. Thread-safe: a conversation's requests may overlap."""

    def __init__(self) -> None:
        self._by_value: dict[tuple[str, str], str] = {}
        self._counts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def for_value(self, entity: str, value: str) -> str:
        key = _key(entity, value)
        with self._lock:
            found = self._by_value.get(key)
            if found is None:
                label = LABELS.get(entity, entity)
                self._counts[label] += 1
                found = self._by_value[key] = f"<{label}_{self._counts[label]}>"
            return found

    def __len__(self) -> int:
        return len(self._by_value)


def redact(text: str, spans: Sequence[PiiSpan], placeholders: Placeholders) -> str:
    """`text` with each span replaced by its placeholder; spans must not overlap (the detector's do not)."""
    parts: list[str] = []
    at = 0
    for span in sorted(spans, key=lambda s: s.start):
        parts.append(text[at : span.start])
        parts.append(placeholders.for_value(span.entity, span.text))
        at = span.end
    parts.append(text[at:])
    return "".join(parts)


class ScopeBook:
    """Placeholder maps of the most recently used scopes (conversation ids), in memory only.

    Deliberately not persisted: a stored map would be a second copy of the very data being hidden. So the
    numbering is stable for a conversation while this process remembers it (up to `capacity` conversations);
    after a restart, or on another API replica, numbering starts again at 1 (never revealing a value)."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._scopes: OrderedDict[str, Placeholders] = OrderedDict()
        self._lock = threading.Lock()

    def scope(self, key: str) -> Placeholders:
        with self._lock:
            found = self._scopes.get(key)
            if found is None:
                found = self._scopes[key] = Placeholders()
            self._scopes.move_to_end(key)
            while len(self._scopes) > self.capacity:
                self._scopes.popitem(last=False)
            return found

"""What the vector index must say about a document's chunks, read from the document row: the invariant is that
every chunk's access payload equals its document row's access at every moment a search can see it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from services.core.access.rules import rank
from services.core.db.models import Document


@dataclass(frozen=True)
class Access:
    """Who may read a document: its read groups and its classification."""

    groups: tuple[str, ...]
    classification: str

    @classmethod
    def of(cls, document: Document) -> Access:
        return cls(tuple(sorted(document.groups)), document.classification)

    def meet(self, other: Access) -> Access:
        """What both allow: the shared groups, the higher classification. Applied to the index before an access
        change commits, it keeps every chunk at most as readable as the row, before and after the change."""
        level = max(self.classification, other.classification, key=rank)
        return Access(tuple(sorted(set(self.groups) & set(other.groups))), level)

    def payload(self) -> dict[str, Any]:
        return {"groups": list(self.groups), "classification": self.classification}


def index_payload(document: Document) -> dict[str, Any]:
    """Everything the row decides about its live chunks: access, labels, title; and that they are live."""
    return {
        **Access.of(document).payload(),
        "tags": list(document.tags or []),
        "title": document.title,
        "state": "live",
    }

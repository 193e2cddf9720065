"""Who may read what: read groups plus classification levels, one rule for retrieval, listings and citations.

A principal may read a document iff they share a read group with it AND their clearance (the highest clearance
of their groups) is at least the document's classification. Retrieval carries the rule into the vector query
(`ReadScope`: the groups and the classification levels a principal may read); the relational paths (document
listing, get, versions) call `can_read`; admins get `explain` for why a document is or is not readable.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

Classification = Literal["public", "internal", "confidential", "restricted"]
# Lowest to highest: a clearance reads its own level and every level below it.
CLASSIFICATIONS: tuple[Classification, ...] = ("public", "internal", "confidential", "restricted")
# Documents uploaded without a classification, and groups created without a clearance (so that everything that
# existed before classifications keeps being readable by the same people).
DEFAULT_CLASSIFICATION: Classification = "internal"


def rank(level: str) -> int:
    """The level's position (public 0 ... restricted 3); an unknown level ranks above every clearance."""
    return CLASSIFICATIONS.index(level) if level in CLASSIFICATIONS else len(CLASSIFICATIONS)  # type: ignore[arg-type]


def levels_up_to(clearance: str | None) -> tuple[Classification, ...]:
    """Every classification a clearance may read; none without a clearance."""
    if clearance is None:
        return ()
    return CLASSIFICATIONS[: rank(clearance) + 1]


def normalize_origin(origin: str) -> str:
    """Origins compare case-insensitively and without a trailing slash."""
    return origin.strip().rstrip("/").lower()


def effective_clearance(clearances: Iterable[str]) -> Classification | None:
    """The highest clearance among a principal's groups; None when they belong to no group."""
    ranks = [rank(c) for c in clearances if c in CLASSIFICATIONS]
    return CLASSIFICATIONS[max(ranks)] if ranks else None


@dataclass(frozen=True)
class ReadScope:
    """What a retrieval may see. None means unrestricted on that axis (admins); empty means nothing."""

    groups: tuple[str, ...] | None
    classifications: tuple[str, ...] | None

    @classmethod
    def everything(cls) -> ReadScope:
        return cls(None, None)

    @classmethod
    def of(cls, groups: Sequence[str], clearance: str | None) -> ReadScope:
        return cls(tuple(sorted(set(groups))), levels_up_to(clearance))

    def allows(self, groups: Sequence[str], classification: str) -> bool:
        """The rule itself, for rows that are not in the vector store (documents, versions)."""
        if self.groups is not None and not set(self.groups) & set(groups):
            return False
        return self.classifications is None or classification in self.classifications


@dataclass(frozen=True)
class Explanation:
    """Why a principal can or cannot read a document (admin only: it names groups and levels)."""

    readable: bool
    reasons: list[str]
    shared_groups: list[str]
    document_groups: list[str]
    principal_groups: list[str]
    classification: str
    clearance: str | None


def explain(
    document_groups: Sequence[str],
    classification: str,
    principal_groups: Sequence[str],
    clearance: str | None,
    role: str,
) -> Explanation:
    """Both checks of the rule, each with its own reason, so an admin sees every obstacle at once."""
    shared = sorted(set(document_groups) & set(principal_groups))
    reasons: list[str] = []
    if role == "admin":
        reasons.append("admins read every document")
    else:
        if not shared:
            reasons.append(
                f"no shared group: the document is readable by {sorted(document_groups)}, "
                f"the principal belongs to {sorted(principal_groups)}"
            )
        if rank(classification) > (rank(clearance) if clearance is not None else -1):
            reasons.append(
                f"clearance too low: the document is {classification}, the principal's clearance is "
                f"{clearance or 'none (no groups)'}; readable levels are {list(levels_up_to(clearance))}"
            )
    readable = role == "admin" or not reasons
    if readable and role != "admin":
        reasons.append(f"shares {shared} and clearance {clearance} covers {classification}")
    return Explanation(
        readable=readable,
        reasons=reasons,
        shared_groups=shared,
        document_groups=sorted(document_groups),
        principal_groups=sorted(principal_groups),
        classification=classification,
        clearance=clearance,
    )

"""Parsing of the upload form's list fields: groups, tags and classification."""

from __future__ import annotations

from collections.abc import Sequence

from services.core.access.rules import CLASSIFICATIONS, DEFAULT_CLASSIFICATION
from services.core.errors import InvalidInput

MAX_GROUPS = 50


def parse_groups(raw: Sequence[str]) -> list[str]:
    """Groups arrive as repeated form fields or comma-separated; at least one is required."""
    groups = sorted({g.strip() for value in raw for g in value.split(",") if g.strip()})
    if not groups:
        raise InvalidInput("groups is required: name at least one group allowed to read the document")
    if len(groups) > MAX_GROUPS or any(len(g) > 100 for g in groups):
        raise InvalidInput(f"at most {MAX_GROUPS} groups of at most 100 characters each")
    return groups


def parse_classification(raw: str | None) -> str:
    """The upload's classification; absent means the default (internal)."""
    value = (raw or "").strip().lower() or DEFAULT_CLASSIFICATION
    if value not in CLASSIFICATIONS:
        raise InvalidInput(f"classification must be one of {', '.join(CLASSIFICATIONS)}")
    return value


def parse_tags(raw: Sequence[str]) -> list[str]:
    """Tags arrive like groups (repeated or comma-separated) but may be absent."""
    tags = sorted({t.strip() for value in raw for t in value.split(",") if t.strip()})
    if len(tags) > MAX_GROUPS or any(len(t) > 100 for t in tags):
        raise InvalidInput(f"at most {MAX_GROUPS} tags of at most 100 characters each")
    return tags

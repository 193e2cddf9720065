"""Field types shared by request schemas."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field


def _not_blank(text: str) -> str:
    if not text.strip():
        raise ValueError("must not be blank")
    return text.strip()


# A question or query: 1-4000 characters, not only whitespace, stripped.
QueryText = Annotated[str, Field(min_length=1, max_length=4000), AfterValidator(_not_blank)]

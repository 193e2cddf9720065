"""What is embedded for a chunk: its text after its title and heading path (shared by ingestion and re-indexing)."""

from __future__ import annotations


def embedding_prefix(title: str, heading: str) -> str:
    """The context embedded before a chunk's text (f"{prefix}\\n{text}"): title and heading path, the title
    once even when the heading path starts with it (a Markdown file's "# Title")."""
    if heading == title or heading.startswith(f"{title} > "):
        return heading
    return " / ".join(part for part in (title, heading) if part)


def embedded_text(title: str, heading: str, text: str) -> str:
    """Exactly what the encoder sees for a chunk, so a stored chunk can be embedded again by another encoder."""
    context = embedding_prefix(title, heading)
    return f"{context}\n{text}" if context else text

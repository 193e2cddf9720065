"""A conversation as a follow-up may use it: plain turns for the rewrite, and the exchanges the model saw, replayed
verbatim (vLLM's prefix cache), with the documents they quoted, all as the caller may read them now."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.core.access.principals import Caller
from services.core.answers.citations import CitableDocument
from services.core.db.models import Document, Message
from services.core.llm.prompt import Exchange, SourceDocument, Turn
from services.core.vectorstore.port import ScoredChunk

HISTORY_TURNS = 6  # plain turns a follow-up rewrite reads
REPLAYED_EXCHANGES = 8  # earlier turns replayed in a follow-up's prompt (fit_prompt trims them to the context)


@dataclass
class History:
    """A conversation as a follow-up may use it."""

    turns: list[Turn]  # plain text, for rewriting the follow-up
    exchanges: list[Exchange]  # as the model saw them, replayed verbatim
    documents: dict[int, CitableDocument]  # what the replayed turns quoted, under their numbers


def stored_source(document: CitableDocument, quoted: SourceDocument) -> dict[str, Any]:
    """A document quoted in a turn, as a follow-up needs it: its number, and the passages the model was given."""
    return {
        "number": document.number,
        "document_id": document.document_id,
        "title": document.title,
        "passages": [
            {
                "id": p.id,
                "heading": p.heading,
                "chunk_index": p.chunk_index,
                "text": p.text,
                "location": dict(p.location),
            }
            for p in quoted.passages
        ],
    }


def stored_document(item: dict[str, Any]) -> CitableDocument:
    passages = tuple(
        ScoredChunk(
            id=str(p.get("id", "")),
            score=0.0,
            document_id=str(item.get("document_id", "")),
            chunk_index=int(p.get("chunk_index", 0)),
            title=str(item.get("title", "")),
            heading=str(p.get("heading", "")),
            text=str(p.get("text", "")),
            location=dict(p.get("location") or {}),
        )
        for p in item.get("passages", [])
        if isinstance(p, dict)
    )
    return CitableDocument(
        int(item.get("number", 0)), str(item.get("document_id", "")), str(item.get("title", "")), passages
    )


def load_history(session: Session, conversation_id: str, caller: Caller) -> History:
    """The conversation's recent turns as the caller may read them now.

    An answer that cited a document the caller can no longer read (access narrowed, document deleted) is
    left out of the plain turns, and no exchange up to the last one that quoted such a document is
    replayed, so a follow-up can never bring its text back into a prompt."""
    rows = list(
        session.scalars(
            select(Message)
            .where(Message.conversation_id == conversation_id)
            .order_by(Message.created_at.desc())
            .limit(2 * REPLAYED_EXCHANGES)
        )
    )[::-1]
    named = {c.get("document_id") for m in rows for c in (m.citations or []) if isinstance(c, dict)}
    named |= {s.get("document_id") for m in rows for s in (m.sources or []) if isinstance(s, dict)}
    scope = caller.read_scope
    readable = {
        d.id
        for d in session.scalars(select(Document).where(Document.id.in_(named)))
        if scope.allows(d.groups, d.classification)
    }

    def all_readable(items: list[Any] | None) -> bool:
        return all(i.get("document_id") in readable for i in (items or []) if isinstance(i, dict))

    turns = [Turn(m.role, m.content) for m in rows if m.role != "assistant" or all_readable(m.citations)]
    exchanges: list[Exchange] = []
    documents: dict[int, CitableDocument] = {}
    for user, assistant in zip(rows[::2], rows[1::2], strict=False):
        if user.role != "user" or assistant.role != "assistant":
            continue
        if not (all_readable(user.sources) and all_readable(assistant.citations)):
            exchanges, documents = [], {}  # nothing up to here is replayed
            continue
        if user.model_content is None or assistant.model_content is None:
            continue  # answered without the model (a refusal, "I don't know"): nothing to replay
        quoted = [stored_document(item) for item in user.sources or [] if isinstance(item, dict)]
        documents.update((d.number, d) for d in quoted)
        sources = tuple((d.number, d.document_id) for d in quoted)
        exchanges.append(Exchange(user.model_content, assistant.model_content, sources))
    return History(turns[-HISTORY_TURNS:], exchanges, documents)

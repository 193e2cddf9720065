"""Give feedback on one's own answers; admins list it with the answers it is about."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.core.access.principals import Caller
from services.core.db.models import Conversation, Feedback, Message, Principal, utcnow
from services.core.errors import MessageNotFound


def give(*, session: Session, principal: Caller, message_id: str, rating: str, comment: str) -> Feedback:
    """Rate an answer of one's own conversation; rating it again replaces the earlier feedback."""
    message = session.get(Message, message_id)
    conversation = session.get(Conversation, message.conversation_id) if message is not None else None
    mine = conversation is not None and conversation.principal_id == principal.id
    if message is None or message.role != "assistant" or not mine:
        # Someone else's answer is as invisible as a missing one.
        raise MessageNotFound(f"no answer {message_id!r} in your conversations")
    row = session.scalar(
        select(Feedback).where(Feedback.message_id == message_id, Feedback.principal_id == principal.id)
    )
    if row is None:
        row = Feedback(message_id=message_id, principal_id=principal.id)
        session.add(row)
    row.rating, row.comment, row.created_at = rating, comment.strip(), utcnow()
    session.flush()
    return row


def _question(session: Session, answer: Message) -> str:
    """The question an answer replied to: the user message just before it in its conversation."""
    question = session.scalar(
        select(Message.content)
        .where(
            Message.conversation_id == answer.conversation_id,
            Message.role == "user",
            Message.created_at <= answer.created_at,
        )
        .order_by(Message.created_at.desc())
        .limit(1)
    )
    return question or ""


def list(
    *, session: Session, principal: Caller, rating: str | None, limit: int, offset: int
) -> tuple[Sequence[dict[str, Any]], int]:
    principal.require_role("admin")
    query = (
        select(Feedback, Message, Principal.name)
        .join(Message, Message.id == Feedback.message_id)
        .join(Principal, Principal.id == Feedback.principal_id)
    )
    if rating is not None:
        query = query.where(Feedback.rating == rating)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.execute(query.order_by(Feedback.created_at.desc()).limit(limit).offset(offset)).tuples().all()
    items = [
        {
            "id": feedback.id,
            "message_id": feedback.message_id,
            "rating": feedback.rating,
            "comment": feedback.comment,
            "created_at": feedback.created_at,
            "principal_id": feedback.principal_id,
            "principal_name": name,
            "question": _question(session, message),
            "answer": message.content,
            "citations": [
                {"source": c.get("source"), "document_id": c.get("document_id"), "title": c.get("title")}
                for c in message.citations or []
            ],
        }
        for feedback, message, name in rows
    ]
    return items, total

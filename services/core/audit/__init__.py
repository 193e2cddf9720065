"""The audit trail: hash-chained events for every policy decision and governed action; verify, export, erase."""

from services.core.audit.log import (
    admin_action,
    answer_hash,
    decision_event,
    decision_summary,
    record,
    record_chat_request,
    record_decision,
    search_request_event,
)

__all__ = [
    "admin_action",
    "answer_hash",
    "decision_event",
    "decision_summary",
    "record",
    "record_chat_request",
    "record_decision",
    "search_request_event",
]

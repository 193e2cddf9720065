"""A typed Python client of the Steward HTTP API (docs/client.md).

It speaks HTTP only (httpx and pydantic, no server code), so an app gets exactly what the CLI gets:

    with StewardClient("http://127.0.0.1:8000", api_key) as steward:
        answer = steward.chat("When does the garage open?")
        print(answer.answer, [c.title for c in answer.citations])
"""

from services.client.async_client import AsyncStewardClient
from services.client.calls import ChatOptions
from services.client.errors import (
    AuthenticationError,
    ConflictError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    StewardError,
    UnavailableError,
)
from services.client.models import (
    Backup,
    ChatAnswer,
    ChatEvent,
    Citation,
    Document,
    DocumentList,
    DoneEvent,
    ErrorEvent,
    Feedback,
    HistoryTurn,
    IndexDrift,
    Job,
    MetaEvent,
    NearestDocument,
    Passage,
    SearchFilters,
    SearchHit,
    SearchResult,
    Sentence,
    SentenceEvent,
    TokenEvent,
    UploadedDocument,
    Usage,
)
from services.client.sync_client import StewardClient

__all__ = [
    "AsyncStewardClient",
    "AuthenticationError",
    "Backup",
    "ChatAnswer",
    "ChatEvent",
    "ChatOptions",
    "Citation",
    "ConflictError",
    "Document",
    "DocumentList",
    "DoneEvent",
    "ErrorEvent",
    "Feedback",
    "HistoryTurn",
    "IndexDrift",
    "InvalidRequestError",
    "Job",
    "MetaEvent",
    "NearestDocument",
    "NotFoundError",
    "Passage",
    "PermissionDeniedError",
    "RateLimitError",
    "SearchFilters",
    "SearchHit",
    "SearchResult",
    "Sentence",
    "SentenceEvent",
    "StewardClient",
    "StewardError",
    "TokenEvent",
    "UnavailableError",
    "UploadedDocument",
    "Usage",
]

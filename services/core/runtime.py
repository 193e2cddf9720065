"""The heavy objects of one process, built once by an edge (the app factory, the worker, the CLI).

Only those edges import this module. They take what each service needs from the runtime and hand it over
as narrow, keyword-only collaborators; no service, task or leaf module sees the runtime itself.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import httpx
from celery import Celery
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from services.core.access.oidc import OidcConfig, OidcVerifier
from services.core.access.principals import ensure_bootstrap_admin
from services.core.adaptation.catalog import ModelCatalog
from services.core.adaptation.live import Generation, LiveIndex
from services.core.adaptation.questions import QuestionWriter
from services.core.adaptation.records import GenerationRef
from services.core.adaptation.service import Adaptation
from services.core.answers.sentence_vectors import SentenceEncoder
from services.core.audit.writer import AuditWriter
from services.core.db import migrate
from services.core.db.session import make_engine, make_session_factory, session_scope
from services.core.embedding.batcher import EmbeddingBatcher
from services.core.embedding.dense import Embedder
from services.core.embedding.sparse import SparseEncoder
from services.core.jobs.blobs import BlobStore
from services.core.jobs.outbox import Outbox
from services.core.jobs.queue import make_celery
from services.core.jobs.reconcile import Reconciler
from services.core.pii import PiiGuard
from services.core.policy import ReloadablePolicies
from services.core.policy.injection_model import InjectionModel
from services.core.policy.screening import InjectionScanner, ModelScreen
from services.core.quota import QuotaService, build_quota_service
from services.core.quota.throttle import FailedAuthThrottle
from services.core.retrieval.search import RetrievalConfig, Retriever
from services.core.settings import Settings
from services.core.vectorstore import VectorStore, build_vector_store

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    """Everything a request handler or an ingestion task may need, shared by both in one process."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    # The live index generation's store (the live index itself: it follows a switch; adaptation/live.py).
    vector_store: VectorStore
    # Which collection and encoder searches and ingestion use; switched with no restart (`steward tune`).
    live_index: LiveIndex
    # Tuned encoder versions in the data directory.
    models: ModelCatalog
    # Tunes encoders, builds index generations with them, switches and rolls back (`steward tune`).
    adaptation: Adaptation
    # The shipped encoder: the injection screen and the grounding check were calibrated on it, so they keep
    # it whatever encoder the live index uses.
    embedder: Embedder
    # Ingestion's way to the shipped embedder: pools texts of concurrently ingested documents into big windows.
    embedding_batcher: EmbeddingBatcher
    # BM25 sparse vectors for keyword and hybrid search: chunks at ingestion, questions at retrieval.
    sparse_encoder: SparseEncoder
    retriever: Retriever
    policies: ReloadablePolicies
    celery: Celery
    outbox: Outbox
    # Puts the vector index right where it disagrees with the database: the worker's periodic pass, the admin's
    # check and repair, and the last step of an index switch share this one.
    reconciler: Reconciler
    blobs: BlobStore
    # Request and token budgets, checked before the model is called (rules from the policy files).
    quotas: QuotaService
    # Personal-data redaction as the settings ask; spaCy is loaded on first use only.
    pii: PiiGuard
    # Invalid keys counted per client in the quota counters; too many and the client is refused for a while.
    auth_throttle: FailedAuthThrottle
    # Appends audit events of many requests in one transaction (group commit); searches use it.
    audit_writer: AuditWriter
    # Scores each chunk for prompt injection at ingestion (None when the setting turns it off).
    injection_scanner: InjectionScanner | None
    # Embeds each ingested chunk's sentences for the chats that will cite it (None when the setting turns it off).
    sentence_encoder: SentenceEncoder | None
    # Single sign-on: verifies the OpenID provider's tokens with its cached keys (None when SSO is off).
    oidc: OidcVerifier | None = None

    @classmethod
    def build(cls, settings: Settings) -> Runtime:
        """Open every backend; the schema is migrated first so nothing runs against an old one."""
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        engine = make_engine(settings.database_url)
        migrate.upgrade(engine)
        sessions = make_session_factory(engine)
        with session_scope(sessions) as session:
            ensure_bootstrap_admin(session)
        embedder = Embedder(
            settings.embedding_model,
            settings.embedding_batch_size,
            settings.embedding_replicas,
            processes=settings.embedding_processes,
        )
        injection_model = InjectionModel.load()
        screen = ModelScreen(injection_model, embedder.embed, embedder.embed_query)
        batcher = EmbeddingBatcher(embedder)
        policies = ReloadablePolicies(settings.policies_dir, screen)
        sparse_encoder = SparseEncoder()
        models = ModelCatalog(settings.models_dir, settings.embedding_model)
        live_index = _live_index(settings, sessions=sessions, models=models, embedder=embedder, batcher=batcher)
        celery = make_celery(settings)
        outbox = Outbox(celery=celery, sessions=sessions, requeue_after_s=settings.ingest_requeue_after_s)
        reconciler = Reconciler(sessions=sessions, vector_store=live_index, outbox=outbox)
        adaptation = Adaptation(
            sessions=sessions,
            live_index=live_index,
            models=models,
            sparse_encoder=sparse_encoder,
            mode=settings.retrieval_mode,
            min_relevance=settings.min_relevance,
            reconcile=lambda: reconciler.run(repair=True),
            question_writer=QuestionWriter(
                base_url=settings.llm_base_url, model=settings.llm_model, style=settings.llm_prompt_style
            ),
        )
        pii = PiiGuard(settings)
        if pii.enabled:
            pii.warm_up()
        quotas = build_quota_service(settings, engine, policies.engine.policy_set.quota_rules)
        oidc_config = OidcConfig.from_settings(settings)
        oidc = OidcVerifier(config=oidc_config, http=httpx.Client()) if oidc_config else None
        log.info(
            "runtime ready: profile=%s vector_store=%s sso=%s",
            settings.profile,
            settings.vector_store,
            oidc_config.issuer if oidc_config else "off",
        )
        return cls(
            settings=settings,
            engine=engine,
            sessions=sessions,
            vector_store=live_index,
            live_index=live_index,
            models=models,
            adaptation=adaptation,
            embedder=embedder,
            embedding_batcher=batcher,
            sparse_encoder=sparse_encoder,
            retriever=Retriever(
                index=live_index,
                sparse_encoder=sparse_encoder,
                config=RetrievalConfig(
                    default_mode=settings.retrieval_mode,
                    min_relevance=settings.min_relevance,
                    near_duplicate_similarity=settings.near_duplicate_similarity,
                    mmr_lambda=settings.mmr_lambda,
                    answer_top_k=settings.top_k,
                ),
            ),
            policies=policies,
            celery=celery,
            outbox=outbox,
            reconciler=reconciler,
            blobs=BlobStore(settings.uploads_dir),
            quotas=quotas,
            pii=pii,
            auth_throttle=FailedAuthThrottle(quotas.store, settings.auth_failures_per_minute),
            audit_writer=AuditWriter(sessions),
            injection_scanner=(
                InjectionScanner(injection_model, batcher.embed) if settings.injection_scan_at_ingestion else None
            ),
            sentence_encoder=(
                SentenceEncoder(embed=embedder.embed_approximate, name=embedder.approximate_name)
                if settings.sentence_vectors_at_ingestion
                else None
            ),
            oidc=oidc,
        )

    def close(self) -> None:
        if self.oidc is not None:
            self.oidc.close()
        self.audit_writer.close()
        self.live_index.close()  # generations opened beside the base one
        self.embedding_batcher.close()
        self.embedder.close()
        self.live_index.base_store.close()
        self.quotas.close()
        self.engine.dispose()


def _live_index(
    settings: Settings,
    *,
    sessions: sessionmaker[Session],
    models: ModelCatalog,
    embedder: Embedder,
    batcher: EmbeddingBatcher,
) -> LiveIndex:
    """The installation's first collection with the shipped encoder, and how any other generation opens: a tuned
    encoder gets replicas of its own, the shipped one is shared with the injection screen and the grounding check."""
    base_store = build_vector_store(settings)
    base_store.ensure_collection(embedder.dimension)
    base = Generation(GenerationRef(settings.embedding_model, settings.collection), base_store, embedder, batcher)

    def open_generation(ref: GenerationRef) -> Generation:
        if not models.is_tuned(ref.model):
            own_embedder, own_batcher = embedder, batcher
        else:
            own_embedder = Embedder(
                models.encoder_path(ref.model),
                settings.embedding_batch_size,
                settings.embedding_replicas,
                processes=settings.embedding_processes,
            )
            own_batcher = EmbeddingBatcher(own_embedder)
        store = build_vector_store(settings, ref.collection)
        store.ensure_collection(own_embedder.dimension)
        return Generation(ref, store, own_embedder, own_batcher)

    live_index = LiveIndex(
        sessions=sessions,
        base=base,
        open_generation=open_generation,
        open_store=lambda collection: build_vector_store(settings, collection),
    )
    live_index.refresh()
    return live_index

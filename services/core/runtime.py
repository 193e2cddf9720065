"""The heavy objects of one process, built once: database, vector store, embedder, queue, policies."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from celery import Celery
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from services.core.auth import ensure_bootstrap_admin
from services.core.batcher import EmbeddingBatcher
from services.core.db import migrate
from services.core.db.session import make_engine, make_session_factory, session_scope
from services.core.embedder import Embedder
from services.core.pii import PiiGuard, install_question_redactor, uninstall_question_redactor
from services.core.policy import PolicyEngine, PolicySet
from services.core.queue import make_celery
from services.core.quota import QuotaService, build_quota_service
from services.core.settings import Settings
from services.core.sparse import SparseEncoder
from services.core.storage import BlobStore
from services.core.vectorstore import VectorStore, build_vector_store

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    """Everything a request handler or an ingestion task needs, shared by both in one process."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    vector_store: VectorStore
    embedder: Embedder
    # Ingestion's way to the embedder: pools texts of concurrently ingested documents into big windows.
    embedding_batcher: EmbeddingBatcher
    # BM25 sparse vectors for keyword and hybrid search: chunks at ingestion, questions at retrieval.
    sparse_encoder: SparseEncoder
    policy: PolicyEngine
    celery: Celery
    blobs: BlobStore
    # Request and token budgets, checked before the model is called (rules from the policy files).
    quotas: QuotaService
    # Personal-data redaction as the settings ask; spaCy is loaded on first use only.
    pii: PiiGuard

    @classmethod
    def build(cls, settings: Settings) -> Runtime:
        """Open every backend; the schema is migrated first so nothing runs against an old one."""
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        engine = make_engine(settings.database_url)
        migrate.upgrade(engine)
        sessions = make_session_factory(engine)
        with session_scope(sessions) as session:
            ensure_bootstrap_admin(session)
        policy = PolicyEngine(PolicySet.from_path(settings.policies_dir))
        embedder = Embedder(settings.embedding_model, settings.embedding_batch_size, settings.embedding_replicas)
        vector_store = build_vector_store(settings)
        vector_store.ensure_collection(embedder.dimension)
        pii = PiiGuard(settings)
        install_question_redactor(pii)
        if pii.enabled:
            pii.warm_up()
        log.info("runtime ready: profile=%s vector_store=%s", settings.profile, settings.vector_store)
        return cls(
            settings=settings,
            engine=engine,
            sessions=sessions,
            vector_store=vector_store,
            embedder=embedder,
            embedding_batcher=EmbeddingBatcher(embedder),
            sparse_encoder=SparseEncoder(),
            policy=policy,
            celery=make_celery(settings),
            blobs=BlobStore(settings.uploads_dir),
            quotas=build_quota_service(settings, engine, policy.policy_set.quota_rules),
            pii=pii,
        )

    def reload_policies(self) -> PolicySet:
        """Load the policy files again and put them in force for the next request, without a restart.

        A bad file raises (naming file, line and reason) and the rules in force stay as they were. Swapping
        the engine is one attribute assignment, so a request sees either the old rules or the new, not a mix."""
        policy_set = PolicySet.from_path(self.settings.policies_dir)
        self.policy = PolicyEngine(policy_set)
        self.quotas.replace_rules(policy_set.quota_rules)
        return policy_set

    def close(self) -> None:
        uninstall_question_redactor(self.pii)
        self.embedding_batcher.close()
        self.vector_store.close()
        self.quotas.close()
        self.engine.dispose()

"""Tune an encoder on the corpus, build an index generation with it in the background, switch, roll back.

    tune   : pairs from the live collection's own passages -> fine-tuned copy of the live encoder, versioned
    build  : a new collection re-embedded by that encoder while the live one serves -> gate -> switch or reject
    rollback: the previous generation live again, brought level with what changed since (one command)

Only this process's LiveIndex is told of a switch at once; every other process reads the live row within its
check interval (live.py). A build or rollback holds the shard of the new collection in this process: in the
embedded profile that is the server (the CLI asks it), in production any process."""

from __future__ import annotations

import dataclasses
import logging
import random
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from services.core.adaptation import gate, records
from services.core.adaptation.catalog import ENCODER, ModelCatalog
from services.core.adaptation.floor import carry_floor
from services.core.adaptation.live import Generation, LiveIndex
from services.core.adaptation.pairs import Passage, TrainingPair, make_pairs, split_by_document
from services.core.adaptation.questions import QuestionWriter
from services.core.adaptation.records import GenerationRef
from services.core.adaptation.reindex import catch_up, converge, copy_into
from services.core.adaptation.training import TrainingConfig, fine_tune
from services.core.db.session import session_scope
from services.core.embedding.dense import resolve_model_path
from services.core.embedding.sparse import SparseEncoder
from services.core.errors import InvalidInput
from services.core.vectorstore.port import SearchMode, SearchQuery, VectorStore

log = logging.getLogger(__name__)

Progress = Callable[[str, float], None]  # (stage, fraction done)


@dataclass
class TuneOptions:
    training: TrainingConfig = field(default_factory=TrainingConfig)
    max_pairs: int = 6000  # ~10 minutes of training on 2 cores at the default batch and length
    held_out: float = 0.15  # share of documents whose pairs only judge, never train
    switch: bool = True  # build a generation with the new encoder and switch when the gate passes
    # Ask the configured LLM for a question about each of up to this many passages (0: none; questions.py).
    generated_questions: int = 0


@dataclass
class Outcome:
    """What a tune or build did; `report` is what the generation row and the model folder keep."""

    model: str
    generation_id: str | None = None
    state: str = ""
    report: dict[str, Any] = field(default_factory=dict)


class Adaptation:
    def __init__(
        self,
        *,
        sessions: sessionmaker[Session],
        live_index: LiveIndex,
        models: ModelCatalog,
        sparse_encoder: SparseEncoder,
        mode: SearchMode,
        min_relevance: float,
        reconcile: Callable[[], object] | None = None,
        question_writer: QuestionWriter | None = None,
    ) -> None:
        """`min_relevance` is the configured relevance floor, on the shipped encoder's scale; `question_writer`
        asks the configured LLM for training questions when a tuning wants them."""
        self._sessions = sessions
        self._min_relevance = min_relevance
        self._live = live_index
        self._models = models
        self._sparse = sparse_encoder
        self._mode = mode
        self._reconcile = reconcile
        self._question_writer = question_writer

    # --- tune ---------------------------------------------------------------------------------------------
    def tune(
        self,
        options: TuneOptions,
        *,
        questions: Sequence[gate.GateQuestion] = (),
        progress: Progress | None = None,
    ) -> Outcome:
        """Fine-tune the live encoder on the live collection's passages; then build and switch if asked.

        The gate judges by `questions` (the company's own labelled questions) when given, else by the held-out
        documents' pairs. Held-out pairs are sentences of the documents, not questions: an encoder can rank them
        better and real questions worse (docs/adaptation.md measures it), so labelled questions are the gate to
        trust when there are any."""
        say = progress or (lambda stage, done: None)
        self._models.clean_partial()
        live = self._live.refresh()
        started = time.perf_counter()
        passages = stored_passages(live.store)
        if len(passages) < 2:
            raise InvalidInput("the index holds too few passages to tune on; ingest documents first")
        rng = random.Random(options.training.seed)
        written = self._questions(passages, options.generated_questions, rng, say)
        say("pairs", 0.0)
        pairs = make_pairs(passages, rng=rng, search=self._bm25(live.store), limit=options.max_pairs, questions=written)
        training, held = split_by_document(pairs, held_out=options.held_out, rng=rng)
        pairs_seconds = time.perf_counter() - started
        version = self._models.new_version()
        staged = self._models.staging(version)
        base_path = resolve_model_path(self._models.encoder_path(live.model))
        result = fine_tune(base_path, training, staged / ENCODER, options.training, lambda done: say("training", done))
        report: dict[str, Any] = {
            "version": version,
            "base_model": live.model,
            "base_collection": live.collection,
            "passages": len(passages),
            "pairs_training": len(training),
            "pairs_held_out": len(held),
            "held_out_documents": len({p.document_id for p in held}),
            "hard_negatives": sum(1 for p in training if p.negative),
            "generated_questions_asked": min(options.generated_questions, len(passages)),
            "generated_questions": len(written),
            "pairs_seconds": round(pairs_seconds, 1),
            "training_seconds": round(result.seconds, 1),
            "training_steps": result.steps,
            "training_stopped_early": result.stopped_early,
            "final_loss": round(result.final_loss, 4),
            "config": options.training.as_dict(),
        }
        self._models.publish(version, report)
        log.info("tuned encoder %s: %d pairs in %.0f s", version, len(training), result.seconds)
        outcome = Outcome(model=version, state="tuned", report=report)
        if options.switch:
            by_pairs = held_questions(held)
            built = self.build(
                version,
                questions=questions or by_pairs,
                reference=by_pairs if questions else (),
                gate_source="labelled questions" if questions else "held-out pairs",
                progress=progress,
            )
            built.report = {**report, **built.report}
            return built
        return outcome

    def _questions(self, passages: Sequence[Passage], wanted: int, rng: random.Random, say: Progress) -> dict[str, str]:
        """Up to `wanted` passages, drawn at random, each with the question the LLM wrote about it (if usable)."""
        if wanted <= 0:
            return {}
        if self._question_writer is None:
            raise InvalidInput("generated questions need an LLM, and none is configured for tuning")
        asked = rng.sample(list(passages), min(wanted, len(passages)))
        say("questions", 0.0)
        return self._question_writer.write(asked, lambda done: say("questions", done))

    # --- build --------------------------------------------------------------------------------------------
    def build(
        self,
        model: str,
        *,
        questions: Sequence[gate.GateQuestion],
        reference: Sequence[gate.GateQuestion] = (),
        gate_source: str = "labelled questions",
        progress: Progress | None = None,
        force: bool = False,
    ) -> Outcome:
        """A new collection embedded by `model`, built while the live one serves; live if it passes the gate
        (or `force`: an admin's explicit choice, recorded in the report)."""
        say = progress or (lambda stage, done: None)
        self._models.encoder_path(model)  # a missing version fails here, before anything is created
        live = self._live.refresh()
        collection = self._collection_name(model)
        with session_scope(self._sessions) as session:
            abandoned = records.abandon_stale(session)
        for stale in abandoned:  # a crashed build's files go; its row says why
            self._live.discard(stale)
        with session_scope(self._sessions) as session:
            generation_id = records.start(session, model=model, collection=collection, base=self._live.base).id
        ref = GenerationRef(model, collection, generation_id)
        report: dict[str, Any] = {"previous_model": live.model, "previous_collection": live.collection}
        try:
            started = time.perf_counter()
            target = self._live.generation(ref)
            total = max(live.store.count(), 1)
            heartbeat = _Heartbeat(self._sessions, generation_id)

            def copied_so_far(n: int) -> None:
                say("reindex", n / total)
                heartbeat(n)

            copied = copy_into(
                source=live.store, target=target.store, embed=target.batcher.embed, progress=copied_so_far
            )
            rounds = converge(source=live.store, target=target.store, embed=target.batcher.embed)
            report["reindex_seconds"] = round(time.perf_counter() - started, 1)
            report["reindexed_points"] = copied
            report["catch_up_changes"] = sum(r.changes for r in rounds)
            say("gate", 0.0)
            before = self._score(live, questions)
            after = self._score(target, questions)
            if reference:  # figures for the record only; the gate does not read them
                ref_before, ref_after = self._score(live, reference), self._score(target, reference)
                report["held_out_pairs"] = {
                    "questions": ref_before.questions,
                    "ndcg10_before": ref_before.ndcg10,
                    "ndcg10_after": ref_after.ndcg10,
                }
            report["gate"] = {
                "source": gate_source,
                "questions": before.questions,
                "ndcg10_before": before.ndcg10,
                "ndcg10_after": after.ndcg10,
                "ndcg10_dense_before": before.ndcg10_dense,
                "ndcg10_dense_after": after.ndcg10_dense,
                "mode": self._mode,
            }
            report["forced"] = force
            floor = self._min_relevance if live.min_relevance is None else live.min_relevance
            fit = carry_floor(floor, before.best_dense, after.best_dense)
            report["relevance_floor"] = fit.as_dict()
            if not force and not gate.passes(before, after):
                return self._end(
                    ref,
                    records.REJECTED,
                    report,
                    target.store.count(),
                    error=f"nDCG@10 {after.ndcg10:.4f} is below the live index's {before.ndcg10:.4f}",
                )
            with session_scope(self._sessions) as session:
                records.set_floor(session, generation_id, fit.floor)
            self._switch(live, target, dataclasses.replace(ref, min_relevance=fit.floor))
            report["switched"] = True
            state = records.LIVE
            with session_scope(self._sessions) as session:
                records.finish(session, generation_id, state=state, points=target.store.count(), report=report)
            if self._reconcile is not None:
                self._reconcile()  # what another process wrote to the old collection around the switch
            return Outcome(model, generation_id, state, report)
        except Exception as exc:
            self._end(ref, records.FAILED, report, 0, error=f"{type(exc).__name__}: {exc}")
            raise

    def _switch(self, live: Generation, target: Generation, ref: GenerationRef) -> None:
        """Last catch-up with this process's writes held back, then the live row in one transaction."""
        with self._live.writes_paused():
            last = catch_up(source=live.store, target=target.store, embed=target.batcher.embed)
            with session_scope(self._sessions) as session:
                records.switch(session, str(ref.id), base=self._live.base)
            self._live.made_live(ref)
        log.info("index generation %s is live (%s); last catch-up %s", target.collection, target.model, last)

    def _end(self, ref: GenerationRef, state: str, report: dict[str, Any], points: int, error: str) -> Outcome:
        with session_scope(self._sessions) as session:
            records.finish(session, str(ref.id), state=state, points=points, report=report, error=error)
        self._live.forget(ref.collection, drop=True)  # its files go: the row keeps the figures and why
        log.warning("index generation %s %s: %s", ref.collection, state, error)
        return Outcome(ref.model, ref.id, state, {**report, "error": error})

    # --- rollback -----------------------------------------------------------------------------------------
    def rollback(self) -> Outcome:
        """Make the previous generation live again, with what changed since its switch carried back to it."""
        live = self._live.refresh()
        with session_scope(self._sessions) as session:
            row = records.previous(session)
            ref = records.ref_of(row)
        target = self._live.generation(ref)
        rounds = converge(source=live.store, target=target.store, embed=target.batcher.embed)
        self._switch(live, target, ref)
        if self._reconcile is not None:
            self._reconcile()
        return Outcome(ref.model, ref.id, records.LIVE, {"catch_up_changes": sum(r.changes for r in rounds)})

    # --- helpers ------------------------------------------------------------------------------------------
    def _score(self, generation: Generation, questions: Sequence[gate.GateQuestion]) -> gate.GateScore:
        return gate.score(
            questions,
            store=generation.store,
            embed_query=generation.embedder.embed_query,
            sparse_encoder=self._sparse,
            mode=self._mode,
        )

    def _bm25(self, store: VectorStore) -> Callable[[str, int], list[str]]:
        def search(query: str, limit: int) -> list[str]:
            sparse = self._sparse.encode_query(query)
            if not sparse.indices:
                return []
            hits = store.search(SearchQuery(limit=limit, allowed_groups=None, sparse=sparse, mode="sparse"))
            return [hit.id for hit in hits]

        return search

    def _collection_name(self, model: str) -> str:
        base = re.sub(r"[^A-Za-z0-9_-]+", "_", f"{self._live.base.collection}__{model}")
        with session_scope(self._sessions) as session:
            taken = {row.collection for row in records.all_generations(session)}
        name, n = base, 1
        while name in taken:
            n += 1
            name = f"{base}_{n}"
        return name


class _Heartbeat:
    """Tells the database the build is alive, at most every HEARTBEAT_S (records.abandon_stale reads it)."""

    def __init__(self, sessions: sessionmaker[Session], generation_id: str) -> None:
        self._sessions, self._id = sessions, generation_id
        self._next = time.monotonic() + records.HEARTBEAT_S

    def __call__(self, points: int) -> None:
        if time.monotonic() >= self._next:
            with session_scope(self._sessions) as session:
                records.beat(session, self._id, points)
            self._next = time.monotonic() + records.HEARTBEAT_S


def stored_passages(store: VectorStore) -> list[Passage]:
    """The searchable chunks of a collection as the encoder saw them (staged ones belong to no ready version)."""
    passages = []
    for point in store.export_points():
        p = point.payload
        if p.get("state", "live") != "live" or not p.get("text"):
            continue
        passages.append(
            Passage(
                point.id,
                str(p.get("document_id", "")),
                str(p.get("title", "")),
                str(p.get("heading", "")),
                str(p["text"]),
            )
        )
    return passages


def held_questions(pairs: Sequence[TrainingPair]) -> list[gate.GateQuestion]:
    return [gate.GateQuestion(p.query, frozenset({p.document_id})) for p in pairs]

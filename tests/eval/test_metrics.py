"""The evaluation harness without a live API: metric functions on hand-checked toys, calibration, citations, the
dataset loader, corpus keying/ingestion against a fake client, the HTTP calls against a mock transport, and the
report files from a synthetic run."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.eval import metrics
from services.eval.client import ApiError, EvalClient
from services.eval.corpus import CorpusFile, cache_key, corpus_files, ingest_corpus
from services.eval.dataset import DatasetError, check_relevant_exist, load_questions
from services.eval.errors import EvalError
from services.eval.report import RunInfo, write_report
from services.eval.runner import ChatOutcome, QuestionResult, RunConfig, score_chat, score_search
from services.eval.summary import headline, summarise

EVAL_DIR = Path(__file__).parents[1] / "data" / "eval"

# --- ranking metrics ----------------------------------------------------------------------------------------------

RANKED = ["d3", "d1", "d7"]
RELEVANT = {"d1", "d9"}


def test_recall_at_k_counts_relevant_documents_in_the_first_k() -> None:
    assert metrics.recall_at_k(RANKED, RELEVANT, 1) == 0.0  # top 1 = {d3}: none of {d1, d9}
    assert metrics.recall_at_k(RANKED, RELEVANT, 2) == 0.5  # top 2 = {d3, d1}: d1 of 2 relevant
    assert metrics.recall_at_k(RANKED, RELEVANT, 10) == 0.5  # d9 never retrieved
    assert metrics.recall_at_k(["d9", "d1"], RELEVANT, 2) == 1.0


def test_reciprocal_rank_is_one_over_the_first_relevant_rank_within_k() -> None:
    assert metrics.reciprocal_rank(RANKED, RELEVANT) == 0.5  # d1 at rank 2
    assert metrics.reciprocal_rank(RANKED, {"d3"}) == 1.0
    assert metrics.reciprocal_rank(RANKED, {"d7"}) == pytest.approx(1 / 3)
    assert metrics.reciprocal_rank(RANKED, {"d7"}, k=2) == 0.0  # rank 3 is beyond k
    assert metrics.reciprocal_rank(RANKED, {"d9"}) == 0.0  # never retrieved
    assert metrics.first_relevant_rank(RANKED, RELEVANT) == 2


def test_ndcg_uses_binary_gains_and_an_ideal_of_min_relevant_k() -> None:
    # DCG = 1/log2(2+1) (d1 at rank 2) = 0.6309; ideal: 2 relevant on top = 1 + 1/log2(3) = 1.6309
    # nDCG@3 = 0.6309 / 1.6309 = 0.3869
    expected = (1 / math.log2(3)) / (1 + 1 / math.log2(3))
    assert metrics.ndcg_at_k(RANKED, RELEVANT, 3) == pytest.approx(expected)
    assert expected == pytest.approx(0.3869, abs=1e-4)
    # ranked [r1, x, r2], relevant {r1, r2}: DCG = 1 + 1/log2(4) = 1.5; ideal = 1 + 1/log2(3) = 1.6309 -> 0.9197
    assert metrics.ndcg_at_k(["r1", "x", "r2"], {"r1", "r2"}, 10) == pytest.approx(0.9197, abs=1e-4)
    # three relevant but k = 2: the ideal holds only two, so the two on top are perfect
    assert metrics.ndcg_at_k(["r1", "r2", "x"], {"r1", "r2", "r3"}, 2) == pytest.approx(1.0)
    # relevant document at rank 3 is cut off at k = 2
    assert metrics.ndcg_at_k(RANKED, {"d7"}, 2) == 0.0


def test_ranking_metrics_need_relevant_documents() -> None:
    for call in (
        lambda: metrics.recall_at_k(RANKED, set(), 5),
        lambda: metrics.reciprocal_rank(RANKED, set()),
        lambda: metrics.ndcg_at_k(RANKED, set(), 10),
    ):
        with pytest.raises(ValueError):
            call()


def test_distinct_documents_keeps_the_first_occurrence_order() -> None:
    assert metrics.distinct_documents(["d2", "d1", "d2", "d3", "d1"]) == ["d2", "d1", "d3"]
    assert metrics.distinct_documents([]) == []


def test_score_search_dedupes_chunks_to_documents_and_maps_them_to_sources() -> None:
    sources = {"id-a": "hr/a.md", "id-b": "it/b.md", "id-c": "finance/c.csv"}
    response = {
        "results": [
            {"document_id": "id-a", "similarity": 0.71, "score": 0.9},
            {"document_id": "id-a", "similarity": 0.69, "score": 0.8},
            {"document_id": "id-x", "similarity": 0.5, "score": 0.7},  # not a corpus document
            {"document_id": "id-b", "similarity": 0.6, "score": 0.6},
        ],
        "answerable": True,
        "query": "rewritten",
        "rewrite": "concat",
    }
    outcome = score_search(response, ["it/b.md", "finance/c.csv"], sources)
    assert outcome.ranked == ["hr/a.md", "<not in corpus: id-x>", "it/b.md"]
    assert outcome.first_relevant_rank == 3  # document rank, not chunk rank (chunk rank would be 4)
    assert outcome.reciprocal_rank == pytest.approx(1 / 3)
    assert outcome.recall_at_5 == 0.5
    assert outcome.top_similarity == 0.71
    assert (outcome.answerable, outcome.query, outcome.rewrite, outcome.hits) == (True, "rewritten", "concat", 4)

    nothing = score_search({"results": []}, [], sources)  # an unanswerable question that found nothing
    assert nothing.top_similarity is None and nothing.recall_at_10 is None and nothing.answerable is None


# --- refusal calibration ------------------------------------------------------------------------------------------

# 20 answerable questions: one weak (0.35), the others 0.60 .. 0.78. Five unanswerable ones.
ANSWERABLE = [0.35] + [round(0.60 + 0.01 * i, 2) for i in range(19)]
UNANSWERABLE = [0.20, 0.25, 0.40, 0.55, 0.70]


def test_calibration_maximises_refusals_within_the_false_refusal_cap() -> None:
    # Cap 5% = one of 20 answerable may be refused: any t <= 0.60 (t = 0.61 also refuses the 0.60 one: 10%).
    # Refusals of unanswerable grow with t: 0.20, 0.25, 0.40, 0.55 are refused from t = 0.56 on (4/5 = 0.8);
    # 0.70 would need t > 0.70. Best within the cap: 0.8, first reached at t = 0.56.
    result = metrics.calibrate_floor(ANSWERABLE, UNANSWERABLE, max_false_refusal_rate=0.05)
    assert result.floor == 0.56
    assert result.refusal_accuracy == pytest.approx(0.8)
    assert result.false_refusal_rate == pytest.approx(0.05)
    assert len(result.curve) == 101
    assert result.curve[0].threshold == 0.0 and result.curve[-1].threshold == 1.0
    at_061 = result.curve[61]
    assert at_061.threshold == 0.61 and at_061.false_refusal_rate == pytest.approx(0.10)  # over the cap


def test_calibration_with_no_false_refusals_allowed() -> None:
    # Cap 0: t <= 0.35 (the weak answerable one survives while 0.35 >= t). Refused then: 0.20, 0.25 from t = 0.26.
    result = metrics.calibrate_floor(ANSWERABLE, UNANSWERABLE, max_false_refusal_rate=0.0)
    assert result.floor == 0.26
    assert result.refusal_accuracy == pytest.approx(0.4)
    assert result.false_refusal_rate == 0.0


def test_calibration_counts_questions_without_hits_as_refused() -> None:
    # One answerable question found nothing: 1/20 refused at every threshold, so the cap is already used up.
    answerable: list[float | None] = [None] + [0.8] * 19
    result = metrics.calibrate_floor(answerable, [0.1, 0.3], max_false_refusal_rate=0.05)
    assert result.curve[0].false_refusal_rate == pytest.approx(0.05)
    assert result.floor == 0.31  # both unanswerable refused, none of the 0.8 ones
    # Two of 20 without hits: 10% at t = 0 already, no floor satisfies a 5% cap.
    infeasible = metrics.calibrate_floor([None, None] + [0.8] * 18, [0.1], max_false_refusal_rate=0.05)
    assert infeasible.floor is None and infeasible.refusal_accuracy is None


def test_calibration_needs_both_sides() -> None:
    result = metrics.calibrate_floor([0.5, 0.6], [])
    assert result.floor is None
    assert result.curve[0].refusal_accuracy is None and result.curve[0].false_refusal_rate == 0.0


# --- citations ----------------------------------------------------------------------------------------------------

CITATIONS = [(1, "a"), (2, "b"), (3, "c")]


def test_citation_precision_counts_the_documents_the_answer_marks() -> None:
    # markers [2] and [1]: cited {b, a}; relevant {b} -> 1/2
    assert metrics.citation_precision("It costs 40 EUR [2]. See also [1].", CITATIONS, {"b"}) == 0.5
    assert metrics.cited_documents("It costs 40 EUR [2]. See also [1].", CITATIONS) == ["a", "b"]
    # "[1, 3]" names two sources: cited {a, c}; relevant {c} -> 1/2
    assert metrics.citation_precision("Yes [1, 3].", CITATIONS, {"c"}) == 0.5
    assert metrics.cited_sources("Yes [3][1] and [1].", {1, 2, 3}) == [3, 1]


def test_citation_precision_without_markers_counts_every_citation() -> None:
    # no markers: all of {a, b, c} cited; relevant {b} -> 1/3
    assert metrics.citation_precision("It costs 40 EUR.", CITATIONS, {"b"}) == pytest.approx(1 / 3)
    # a marker naming no returned source counts as no marker
    assert metrics.citation_precision("It costs 40 EUR [7].", CITATIONS, {"b"}) == pytest.approx(1 / 3)


def test_citation_precision_counts_each_document_once_and_needs_citations() -> None:
    # [1] and [2] are chunks of the same document a: one cited document, relevant -> 1.0
    assert metrics.citation_precision("[1][2]", [(1, "a"), (2, "a"), (3, "b")], {"a"}) == 1.0
    assert metrics.citation_precision("No sources.", [], {"a"}) is None


def test_score_chat_maps_citations_and_declines() -> None:
    sources = {"id-a": "hr/a.md", "id-b": "it/b.md"}
    response = {
        "answer": "Forty euros [2].",
        "citations": [{"source": 1, "document_id": "id-a"}, {"source": 2, "document_id": "id-b"}],
        "refused": False,
        "generated": True,
        "answered_from_sources": True,
    }
    outcome = score_chat(response, ["it/b.md"], sources)
    assert outcome.cited == ["it/b.md"] and outcome.citation_precision == 1.0 and not outcome.declined
    declined = score_chat({"answer": "I don't know.", "citations": [], "answered_from_sources": False}, [], sources)
    assert declined.declined and declined.citation_precision is None


# --- dataset ------------------------------------------------------------------------------------------------------


def _line(**overrides: Any) -> str:
    question = {"id": "q1", "question": "Where do I park?", "relevant": ["a.md"], "answerable": True, "kind": "lookup"}
    question.update(overrides)
    return json.dumps({k: v for k, v in question.items() if v is not None})


def test_dataset_loader_reads_questions_with_history(tmp_path: Path) -> None:
    path = tmp_path / "q.jsonl"
    history = [{"role": "user", "content": "Parking?"}, {"role": "assistant", "content": "Garage."}]
    lines = [
        _line(),
        "",
        _line(id="q2", kind="followup", history=history),
        _line(id="q3", relevant=[], answerable=False, kind="unanswerable"),
    ]
    path.write_text("\n".join(lines) + "\n")
    questions = load_questions(path)
    assert [q.id for q in questions] == ["q1", "q2", "q3"]
    assert questions[1].history_payload() == history and questions[1].line == 3
    assert questions[2].relevant == () and not questions[2].answerable


def test_dataset_loader_rejects_bad_lines_with_their_numbers(tmp_path: Path) -> None:
    path = tmp_path / "q.jsonl"
    lines = [
        _line(),  # 1 ok
        "{not json",  # 2
        _line(id="q3", kind="lookupp"),  # 3
        _line(id="q4", answerable=False),  # 4: relevant given but answerable false
        _line(id="q1"),  # 5: duplicate of line 1
        _line(id="q6", relevant="a.md"),  # 6: not a list
        _line(id="q7", history=[{"role": "bot", "content": "hi"}]),  # 7
        _line(id="q8", relevent=["a.md"]),  # 8: typo'd field
        json.dumps({"id": "q9"}),  # 9: missing fields
    ]
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DatasetError) as caught:
        load_questions(path)
    problems = caught.value.problems
    numbers = sorted({int(p.split(":")[0].removeprefix("line ")) for p in problems})
    assert numbers == [2, 3, 4, 5, 6, 7, 8, 9]
    message = str(caught.value)
    assert "line 2: not valid JSON" in message
    assert "line 3: 'kind' must be one of" in message
    assert "line 5: duplicate id 'q1' (first on line 1)" in message
    assert "line 8: unknown field(s) 'relevent'" in message
    assert "line 9: missing field 'question'" in message


def test_relevant_paths_must_be_in_the_corpus(tmp_path: Path) -> None:
    path = tmp_path / "q.jsonl"
    path.write_text(_line() + "\n" + _line(id="q2", relevant=["missing.md"]) + "\n")
    questions = load_questions(path)
    check_relevant_exist(questions[:1], {"a.md"}, tmp_path)
    with pytest.raises(EvalError, match=r"line 2: q2 names 'missing.md'"):
        check_relevant_exist(questions, {"a.md"}, tmp_path)


def test_the_bundled_dataset_loads_and_matches_its_corpus() -> None:
    questions = load_questions(EVAL_DIR / "questions.jsonl")
    files = corpus_files(EVAL_DIR / "corpus")
    check_relevant_exist(questions, {f.source for f in files}, EVAL_DIR / "corpus")
    assert len(questions) >= 100 and len(files) >= 160
    assert all("/" in f.source and not f.source.startswith("corpus/") for f in files)


# --- corpus -------------------------------------------------------------------------------------------------------


def test_cache_key_changes_with_content_and_index_settings(tmp_path: Path) -> None:
    (tmp_path / "hr").mkdir()
    (tmp_path / "hr" / "leave.md").write_text("# Leave\n30 days.")
    (tmp_path / ".hidden.md").write_text("skip me")
    files = corpus_files(tmp_path)
    assert [f.source for f in files] == ["hr/leave.md"]
    key = cache_key(files, "0.1.0", 200, 32, "m")
    assert key == cache_key(files, "0.1.0", 200, 32, "m") and len(key) == 64
    assert key != cache_key(files, "0.1.1", 200, 32, "m")
    assert key != cache_key(files, "0.1.0", 256, 32, "m")
    assert key != cache_key(files, "0.1.0", 200, 0, "m")
    assert key != cache_key(files, "0.1.0", 200, 32, "other")
    (tmp_path / "hr" / "leave.md").write_text("# Leave\n31 days.")
    assert key != cache_key(files, "0.1.0", 200, 32, "m")


class FakeDocumentsClient:
    """Uploads return ids; each listing moves every document one step: queued -> processing -> ready/failed."""

    def __init__(self, fail: set[str] | None = None) -> None:
        self.fail = fail or set()
        self.documents_by_id: dict[str, dict[str, Any]] = {}
        self.uploads: list[tuple[str, list[str]]] = []

    def upload(self, path: Path, source: str, groups: list[str]) -> tuple[dict[str, Any], bool]:
        self.uploads.append((source, groups))
        document = {"id": f"id-{source}", "source": source, "status": "queued", "error": None}
        document.update(version=1, indexed_version=0)
        self.documents_by_id[document["id"]] = document
        return document, source != "b.md"  # b.md was already there unchanged

    def documents(self) -> list[dict[str, Any]]:
        for document in self.documents_by_id.values():
            if document["status"] == "processing":
                if document["source"] in self.fail:
                    document.update(status="failed", error="parse error: bad bytes")
                else:
                    document.update(status="ready", indexed_version=1)
            elif document["status"] == "queued":
                document["status"] = "processing"
        return list(self.documents_by_id.values())


def _files(tmp_path: Path, *names: str) -> list[CorpusFile]:
    for name in names:
        (tmp_path / name).write_text(name)
    return [CorpusFile(tmp_path / name, name) for name in names]


def test_ingest_corpus_uploads_and_waits_until_ready(tmp_path: Path) -> None:
    client = FakeDocumentsClient()
    summary = ingest_corpus(client, _files(tmp_path, "a.md", "b.md"), show_progress=False, sleep=lambda _: None)  # type: ignore[arg-type]
    assert summary.document_ids == {"a.md": "id-a.md", "b.md": "id-b.md"}
    assert (summary.uploaded, summary.unchanged) == (1, 1)
    assert client.uploads == [("a.md", ["everyone"]), ("b.md", ["everyone"])]
    assert all(d["status"] == "ready" for d in client.documents_by_id.values())


def test_ingest_corpus_fails_naming_the_failed_documents(tmp_path: Path) -> None:
    client = FakeDocumentsClient(fail={"b.md"})
    with pytest.raises(EvalError, match=r"1 corpus documents failed to ingest:\n  b.md: parse error: bad bytes"):
        ingest_corpus(client, _files(tmp_path, "a.md", "b.md"), show_progress=False, sleep=lambda _: None)  # type: ignore[arg-type]


# --- HTTP calls ---------------------------------------------------------------------------------------------------


def test_client_makes_the_documented_api_calls(tmp_path: Path) -> None:
    seen: list[tuple[str, str, Any]] = []
    chat_attempts = []

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content) if request.headers.get("content-type") == "application/json" else None
        seen.append((request.method, request.url.path, body))
        if request.url.path == "/v1/documents" and request.method == "POST":
            content = request.read()
            assert b'name="source"' in content and b"hr/a.md" in content and b'name="groups"' in content
            return httpx.Response(200, json={"id": "d1"})  # 200: already there unchanged
        if request.url.path == "/v1/documents":
            offset = int(request.url.params["offset"])
            assert request.url.params["limit"] == "500"
            page = [{"id": "d1"}] if offset == 0 else []
            return httpx.Response(200, json={"documents": page, "total": 1})
        if request.url.path == "/v1/search":
            return httpx.Response(200, json={"results": [], "answerable": False})
        chat_attempts.append(1)
        if len(chat_attempts) == 1:
            return httpx.Response(503, json={"error": {"code": "llm_unavailable", "message": "starting"}})
        return httpx.Response(200, json={"answer": "x", "citations": []})

    http = httpx.Client(base_url="http://steward", transport=httpx.MockTransport(handler))
    client = EvalClient(http, sleep=lambda _: None)
    (tmp_path / "a.md").write_text("# A")
    document, queued = client.upload(tmp_path / "a.md", "hr/a.md", ["everyone"])
    assert document == {"id": "d1"} and queued is False
    assert client.documents() == [{"id": "d1"}]
    history = [{"role": "user", "content": "Parking?"}, {"role": "assistant", "content": "Garage."}]
    client.search("q", "hybrid", 30, "auto")
    client.search("and there?", "hybrid", 30, "concat", history)
    assert client.chat("and there?", history) == {"answer": "x", "citations": []}
    searches = [body for method, path, body in seen if path == "/v1/search"]
    assert searches == [
        {"query": "q", "top_k": 30, "mode": "hybrid", "rewrite": "auto"},
        {"query": "and there?", "top_k": 30, "mode": "hybrid", "rewrite": "concat", "history": history},
    ]
    chats = [body for method, path, body in seen if path == "/v1/chat"]
    assert chats == [{"question": "and there?", "stream": False, "history": history}] * 2  # retried after 503


def test_client_raises_the_api_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(422, json={"error": {"code": "invalid_request", "message": "mode: bad"}})

    client = EvalClient(httpx.Client(base_url="http://steward", transport=httpx.MockTransport(handler)))
    with pytest.raises(ApiError, match=r"POST /v1/search: mode: bad \(invalid_request, HTTP 422\)"):
        client.search("q", "nope", 30, "auto")


def test_chat_raw_reads_the_model_s_own_text_and_every_source_it_was_given() -> None:
    """The grounding bench checks the model's words against the prompt's sources offline: the `done` answer's
    citations are only those it used, renumbered, so those come from the stream."""

    def source(number: int) -> dict[str, Any]:
        hit = {"document_id": f"d{number}", "title": "T", "heading": "", "chunk_index": 0, "score": 1.0}
        return {**hit, "similarity": 0.9, "text": "Leave: 30 days.", "source": number}

    done = {
        "conversation_id": "c1",
        "answer": "Leave is 30 days [1].",
        "mode": "generated",
        "citations": [source(1)],
        "refused": False,
        "answered_from_sources": True,
        "generated": True,
        "prompt_version": "v",
    }
    meta = {"conversation_id": "c1", "sources": [source(1), source(2)]}
    stream = (
        f"event: meta\ndata: {json.dumps(meta)}\n\n"
        'event: token\ndata: {"text": "Leave is 30 days"}\n\n'
        'event: token\ndata: {"text": " [2]."}\n\n'
        f"event: done\ndata: {json.dumps(done)}\n\n"
    )

    def handler(request: httpx.Request) -> httpx.Response:
        assert json.loads(request.content)["stream"] is True
        return httpx.Response(200, text=stream, headers={"content-type": "text/event-stream"})

    client = EvalClient(httpx.Client(base_url="http://steward", transport=httpx.MockTransport(handler)))
    reply = client.chat_raw("How long is leave?")
    assert reply["raw"] == "Leave is 30 days [2]."  # the prompt's numbering, as the model wrote it
    assert [s["source"] for s in reply["sources"]] == [1, 2]
    assert reply["answer"] == "Leave is 30 days [1]." and reply["generated"] is True

    def failing(request: httpx.Request) -> httpx.Response:
        error = '{"error": {"code": "llm_unavailable", "message": "gone"}}'
        meta = '{"conversation_id": "c1", "sources": []}'
        return httpx.Response(200, text=f"event: meta\ndata: {meta}\n\nevent: error\ndata: {error}\n\n")

    with pytest.raises(ApiError, match=r"gone \(llm_unavailable, HTTP 200\)"):
        EvalClient(httpx.Client(base_url="http://steward", transport=httpx.MockTransport(failing))).chat_raw("q")


# --- summary and report -------------------------------------------------------------------------------------------


def _synthetic_results() -> list[QuestionResult]:
    """Four questions scored from fake search/chat responses: dense finds less than hybrid."""
    sources = {f"id-{n}": n for n in ("a.md", "b.md", "c.md", "d.md")}

    def response(docs: list[str], similarity: float, answerable: bool) -> dict[str, Any]:
        return {
            "results": [{"document_id": f"id-{d}", "similarity": similarity - 0.01 * i} for i, d in enumerate(docs)],
            "answerable": answerable,
            "query": "q",
            "rewrite": "off",
        }

    specs = [
        ("q1", "lookup", ["a.md"], ["a.md", "b.md"], ["b.md", "a.md"], 0.8),
        ("q2", "keyword", ["b.md", "c.md"], ["b.md", "c.md"], ["d.md"], 0.7),
        ("q3", "followup", ["c.md"], ["d.md", "c.md"], ["d.md"], 0.6),
        ("q4", "unanswerable", [], ["d.md"], ["d.md"], 0.3),
    ]
    results = []
    for qid, kind, relevant, hybrid, dense, similarity in specs:
        answerable = bool(relevant)
        result = QuestionResult(qid, kind, f"question {qid}", answerable, relevant)
        result.searches["hybrid"] = score_search(response(hybrid, similarity, answerable), relevant, sources)
        result.searches["dense"] = score_search(response(dense, similarity, answerable), relevant, sources)
        if kind == "followup":
            result.rewrites["off"] = score_search(response(["d.md"], 0.5, True), relevant, sources)
            result.rewrites["concat"] = score_search(response(hybrid, 0.6, True), relevant, sources)
            result.rewrites["llm"] = score_search(response(["c.md"], 0.6, True), relevant, sources)
        chat = {"answer": "Yes [1].", "citations": [{"source": 1, "document_id": f"id-{hybrid[0]}"}]}
        result.chat = score_chat({**chat, "generated": True, "answered_from_sources": answerable}, relevant, sources)
        results.append(result)
    results[2].chat = ChatOutcome("", [], [], None, False, False, None, False, error="boom")
    return results


def test_summary_headline_figures() -> None:
    summary = summarise(_synthetic_results(), RunConfig(modes=("dense", "hybrid"), generate=True))
    figures = headline(summary)
    # hybrid: q1 rank 1, q2 ranks 1+2, q3 rank 2 -> MRR = (1 + 1 + 0.5) / 3
    assert figures["hybrid_mrr"] == pytest.approx(2.5 / 3)
    # dense: q1 rank 2 (0.5), q2 none (0), q3 none (0) -> MRR = 0.5 / 3
    assert figures["dense_mrr"] == pytest.approx(0.5 / 3)
    assert figures["hybrid_recall_at_10"] == pytest.approx(1.0)
    assert figures["hybrid_vs_dense_ndcg_gain"] is not None and figures["hybrid_vs_dense_ndcg_gain"] > 0
    assert figures["refusal_accuracy"] == 1.0 and figures["false_refusal_rate"] == 0.0
    # top similarities: answerable 0.8, 0.7, 0.6; unanswerable 0.3 -> refused from t = 0.31 up to t = 0.60
    assert figures["calibrated_floor"] == 0.31
    assert figures["followup_recall_at_10_off"] == 0.0 and figures["followup_recall_at_10_llm"] == 1.0
    assert figures["followup_recall_at_10_auto"] == 1.0
    # chat: q1 cites a.md (relevant), q2 cites b.md (relevant); q3 errored -> precision 1.0; q4 declined
    assert figures["citation_precision"] == 1.0 and figures["chat_errors"] == 1
    assert figures["chat_refusal_accuracy"] == 1.0 and figures["chat_false_refusal_rate"] == 0.0
    assert list(summary.by_kind["hybrid"]) == ["lookup", "keyword", "followup"]


def test_report_writer_produces_every_file_with_a_drawn_png(tmp_path: Path) -> None:
    import matplotlib.image

    results = _synthetic_results()
    summary = summarise(results, RunConfig(modes=("dense", "hybrid"), generate=True))
    info = RunInfo(
        dataset="questions.jsonl",
        dataset_sha256="0" * 64,
        questions_by_kind={"lookup": 1, "keyword": 1, "followup": 1, "unanswerable": 1},
        corpus="corpus",
        corpus_files=4,
        target="in-process",
        steward_version="0.1.0",
        started_at="2025-01-01T00:00:00+00:00",
        duration_s=1.0,
        options={"modes": "dense,hybrid"},
        settings={"chunk_size_tokens": 200},
    )
    files = write_report(tmp_path / "out", info, summary, results)
    assert {name: path.name for name, path in files.items()} == {
        "report": "report.md",
        "metrics": "metrics.json",
        "calibration": "calibration.csv",
        "per_question": "per_question.jsonl",
        "chart": "chart.png",
    }
    png = files["chart"].read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert b"Matplotlib" in png  # the tEXt "Software" chunk matplotlib writes
    pixels = matplotlib.image.imread(files["chart"])
    assert pixels.shape[:2] == (500, 1300)
    assert pixels[..., :3].std() > 0.05  # bars and curves were drawn, not a blank canvas

    document = json.loads(files["metrics"].read_text())
    assert document["headline"]["calibrated_floor"] == 0.31
    assert len(document["calibration"]["curve"]) == 101
    csv_lines = files["calibration"].read_text().splitlines()
    assert csv_lines[0] == "threshold,refusal_accuracy,false_refusal_rate,within_cap"
    assert len(csv_lines) == 102 and csv_lines[32] == "0.31,1.0000,0.0000,true"
    per_question = [json.loads(line) for line in files["per_question"].read_text().splitlines()]
    assert [q["id"] for q in per_question] == ["q1", "q2", "q3", "q4"]
    assert per_question[2]["searches"]["hybrid"]["first_relevant_rank"] == 2
    report = files["report"].read_text()
    for heading in ("## Retrieval per mode", "## Retrieval per kind", "## Follow-up rewriting", "### Calibration"):
        assert heading in report
    assert "| hybrid | 3 |" in report and "citation precision" in report and "**0.31**" in report


def test_eval_command_is_registered() -> None:
    from click.testing import CliRunner

    from services.cli.main import cli

    result = CliRunner().invoke(cli, ["eval", "--help"])
    assert result.exit_code == 0
    for option in ("--corpus", "--url", "--api-key", "--out", "--modes", "--generate", "--limit"):
        assert option in result.output


def test_modes_option_is_validated() -> None:
    from services.eval.command import parse_modes

    assert parse_modes("hybrid, dense,hybrid") == ("hybrid", "dense")
    for bad in ("", "hybrid,bm25"):
        with pytest.raises(EvalError, match="--modes takes"):
            parse_modes(bad)

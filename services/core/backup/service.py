"""Make a backup archive of a Steward installation, and restore one into another (or the same) installation."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, inspect

from services.core.adaptation import records
from services.core.adaptation.catalog import ModelCatalog
from services.core.adaptation.records import GenerationRef
from services.core.backup import archive, database, files, vectors
from services.core.backup.archive import Manifest
from services.core.db.session import make_session_factory, session_scope
from services.core.errors import BackupError
from services.core.jobs.reconcile import Reconciler
from services.core.settings import Settings
from services.core.vectorstore import VectorStore, build_vector_store

UPLOADS = "uploads"
POLICIES = "policies"
MODELS = "models"


@dataclass(frozen=True, kw_only=True)
class Stores:
    """Where an installation keeps its state: what a backup reads and a restore writes."""

    engine: Engine
    vector_store: VectorStore
    uploads_dir: Path
    policies_dir: Path
    # How the installation is set up ({"database": "sqlite", "vector_store": "qdrant_edge", ...}): recorded in
    # the manifest so a reader knows where a backup came from.
    source: dict[str, str] = field(default_factory=dict)
    # Tuned encoders (`steward tune`): a backup carries the live one, a restore installs it. None: no catalog,
    # so only backups made with the encoder this installation uses restore.
    models: ModelCatalog | None = None
    # Opens another collection of this installation: a backup of another index generation is restored into the
    # collection its database names. None: every backup goes into `vector_store`.
    open_collection: Callable[[str], VectorStore] | None = None

    @classmethod
    def of(cls, settings: Settings, *, engine: Engine, vector_store: VectorStore) -> Stores:
        """An installation's stores as its settings place them; the source recorded is what a restore checks
        (the embedding model) and what a reader of the manifest wants to know. With a tuned encoder live
        (`steward tune`), the model and collection recorded are the live generation's."""
        live = live_generation(settings, engine)
        return cls(
            engine=engine,
            vector_store=vector_store,
            uploads_dir=settings.uploads_dir,
            policies_dir=settings.policies_dir,
            source={
                "database": engine.dialect.name,
                "vector_store": settings.vector_store,
                "collection": live.collection,
                "embedding_model": live.model,
            },
            models=ModelCatalog(settings.models_dir, settings.embedding_model),
            open_collection=lambda name: build_vector_store(settings, name),
        )


def live_generation(settings: Settings, engine: Engine) -> GenerationRef:
    """The collection and encoder searches use, as the database says (the installation's first with the shipped
    encoder until a tuned one is switched to)."""
    base = GenerationRef(settings.embedding_model, settings.collection)
    if not inspect(engine).has_table("index_generations"):
        return base
    with session_scope(make_session_factory(engine)) as session:
        return records.live_ref(session, base)


def default_name() -> str:
    """A backup's file name stem when none is given: steward-backup-<UTC time>."""
    return f"steward-backup-{datetime.now(UTC):%Y%m%dT%H%M%SZ}"


@dataclass(frozen=True)
class BackupReport:
    path: Path
    manifest: Manifest
    seconds: float

    def summary(self) -> str:
        m = self.manifest
        documents = m.tables.get("documents", 0)
        return (
            f"backup written to {self.path} ({self.path.stat().st_size / 1e6:.1f} MB): {documents} documents, "
            f"{sum(m.tables.values())} rows in {len(m.tables)} tables, {m.points} vector points, "
            f"{m.uploads} uploaded files, {m.policies} policy files, in {self.seconds:.1f} s"
        )


@dataclass(frozen=True)
class RestoreReport:
    manifest: Manifest
    policies_changed: bool
    drift: dict[str, Any]
    seconds: float

    def summary(self) -> str:
        m = self.manifest
        drift = int(self.drift.get("drift", 0))
        lines = [
            f"restored the backup of {m.created_at}: {m.tables.get('documents', 0)} documents, "
            f"{sum(m.tables.values())} rows, {m.points} vector points, {m.uploads} uploaded files, "
            f"policies {'replaced' if self.policies_changed else 'unchanged'}, in {self.seconds:.1f} s",
            "index and database agree chunk for chunk"
            if drift == 0
            else f"index drift after restore: {self.drift} (a worker's reconciler repairs it; the backup was taken "
            "while documents were being ingested)",
        ]
        if m.models:
            lines.append(f"the tuned encoder {m.source.get('embedding_model')} came with it and is installed")
        return "\n".join(lines)


def create_backup(stores: Stores, target: Path, *, steward_version: str) -> BackupReport:
    """Write an archive of the database (one consistent snapshot), then the vector points, the uploaded
    originals and the policies. Safe while Steward runs: a document ingested between the database snapshot
    and the points is drift the reconciler repairs after a restore (its job row re-queues it)."""
    started = datetime.now(UTC)
    target = target.resolve()
    if target.exists():
        raise BackupError(f"{target} exists: choose a new file name (a backup never overwrites one)")
    if not target.parent.is_dir():
        raise BackupError(f"no folder {target.parent} to write the backup into")
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".steward-backup-") as scratch:
        staging = Path(scratch)
        schema_revision, tables = database.dump(stores.engine, staging)
        points, dimension = vectors.dump(stores.vector_store, staging)
        manifest = Manifest(
            created_at=started.isoformat(timespec="seconds"),
            steward_version=steward_version,
            schema_revision=schema_revision,
            source=dict(stores.source),
            dimension=dimension,
            tables=tables,
            points=points,
            uploads=files.copy_in(stores.uploads_dir, staging, UPLOADS),
            policies=files.copy_in(stores.policies_dir, staging, POLICIES),
            models=_copy_live_model(stores, staging),
        )
        archive.seal(staging, manifest, target)
    return BackupReport(target, manifest, (datetime.now(UTC) - started).total_seconds())


def check_backup(path: Path) -> Manifest:
    """Unpack and verify an archive without restoring it: its manifest, or a BackupError saying what is wrong."""
    with tempfile.TemporaryDirectory(prefix=".steward-restore-") as scratch:
        return archive.unpack(path, Path(scratch))


def restore_backup(stores: Stores, path: Path, *, replace: bool = False) -> RestoreReport:
    """Restore an archive. The archive is checked whole before anything is touched; without `replace` the
    installation must hold nothing yet. Running it again after a crash (with `replace`) completes it: every
    step overwrites rather than adds."""
    started = datetime.now(UTC)
    stores.uploads_dir.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=stores.uploads_dir.parent, prefix=".steward-restore-") as scratch:
        staging = Path(scratch)
        manifest = archive.unpack(path, staging)
        if manifest.schema_revision is None or not database.known_revision(manifest.schema_revision):
            raise BackupError(
                f"the backup's schema revision {manifest.schema_revision!r} is not one this Steward knows: "
                "restore it with the Steward version that made it, or a newer one"
            )
        carried = _carried_model(manifest, staging)
        _require_same_encoder(manifest, stores, carried=carried is not None)
        if not replace:
            _require_empty(stores)
        # The encoder first and the database last: a running index that follows the database's live generation
        # (adaptation/live.py) finds its encoder and its points already there when it switches.
        if carried is not None and stores.models is not None:
            stores.models.install(manifest.source["embedding_model"], carried)
        store, opened = _target_store(manifest, stores)
        try:
            vectors.clear(store)
            vectors.load(store, staging, manifest.dimension, manifest.points)
            database.load(stores.engine, staging, manifest.schema_revision, manifest.tables)
            files.swap_in(staging / UPLOADS, stores.uploads_dir)
            policies_changed = files.differ(staging / POLICIES, stores.policies_dir)
            if policies_changed:
                files.swap_in(staging / POLICIES, stores.policies_dir)
            drift = Reconciler(sessions=make_session_factory(stores.engine), vector_store=store, outbox=None).run(
                repair=False
            )
        finally:
            if opened:
                store.close()
    return RestoreReport(manifest, policies_changed, drift.as_dict(), (datetime.now(UTC) - started).total_seconds())


def _copy_live_model(stores: Stores, staging: Path) -> int:
    """The live encoder's folder into the archive when it is a tuned one (the shipped one installs with Steward);
    returns how many files."""
    model = stores.source.get("embedding_model", "")
    folder = stores.models.folder(model) if stores.models is not None and model else None
    return files.copy_in(folder, staging, f"{MODELS}/{model}") if folder is not None else 0


def _carried_model(manifest: Manifest, staging: Path) -> Path | None:
    model = manifest.source.get("embedding_model", "")
    folder = staging / MODELS / model
    return folder if manifest.models and model and "/" not in model and folder.is_dir() else None


def _target_store(manifest: Manifest, stores: Stores) -> tuple[VectorStore, bool]:
    """The store the backup's points go into, and whether it was opened for the restore (and must be closed):
    the collection the backup's database names as live, which is this installation's own unless the backup was
    made with another index generation live."""
    collection = manifest.source.get("collection")
    if not collection or collection == stores.source.get("collection") or stores.open_collection is None:
        return stores.vector_store, False
    return stores.open_collection(collection), True


def _require_same_encoder(manifest: Manifest, stores: Stores, *, carried: bool) -> None:
    """Restored vectors are only searchable by the model that made them: a backup made with an encoder this
    installation has not got, and that the archive does not carry, is refused before anything changes
    (re-ingest its documents instead)."""
    made_by, here = manifest.source.get("embedding_model"), stores.source.get("embedding_model")
    if not made_by or not here or made_by == here:
        return
    catalog = stores.models
    if catalog is not None and (carried or made_by == catalog.shipped or catalog.folder(made_by) is not None):
        return
    raise BackupError(
        f"the backup's vectors were made by the embedding model {made_by!r}, this installation uses {here!r} and "
        "has no copy of it: restore it into an installation with the same model"
    )


def _require_empty(stores: Stores) -> None:
    held = []
    if (rows := database.rows_held(stores.engine)) > 0:
        held.append(f"{rows} database rows")
    if (points := stores.vector_store.count()) > 0:
        held.append(f"{points} vector points")
    if files.holds_files(stores.uploads_dir):
        held.append(f"uploaded files in {stores.uploads_dir}")
    if held:
        raise BackupError(
            f"this installation already holds {', '.join(held)}: restore into an empty one, or pass --replace "
            "to replace everything it holds with the backup"
        )

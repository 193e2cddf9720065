"""The API under evaluation: a running server (--url), or the embedded app in this process on a cached data dir.

In-process, the data dir is `<cache dir>/eval/<key>`, keyed by the corpus bytes and the settings the index depends
on, so a second run finds the corpus ingested. A dir without the completion marker (an interrupted run) is wiped.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from services.core.filelock import exclusive_lock
from services.eval.client import EvalClient
from services.eval.corpus import CorpusFile, cache_key
from services.eval.errors import EvalError

if TYPE_CHECKING:
    from services.core.runtime import Runtime
    from services.core.settings import Settings
    from services.serving.server import VLLMServer

MARKER = "eval-ingested.json"
REMOTE_TIMEOUT_S = 600.0


@dataclass
class Target:
    client: EvalClient
    description: str  # for the report: the URL, or "in-process" and the data dir
    settings: dict[str, Any]  # the server settings that shape results, when known
    mark_ingested: Callable[[], None]  # the corpus is in: a later run may reuse it
    wait_for_llm: Callable[[], None]  # block until the LLM can answer (no-op when it is not ours)
    # The in-process app's Runtime (None for a remote server): for benches that look below the HTTP API.
    runtime: Runtime | None = None


def steward_version() -> str:
    try:
        return version("steward")
    except PackageNotFoundError:
        return "unknown"


def _log(message: str) -> None:
    print(f"[steward eval] {message}", file=sys.stderr, flush=True)


@contextlib.contextmanager
def remote_target(url: str, api_key: str) -> Iterator[Target]:
    """A running server; it has its own LLM and settings."""
    http = httpx.Client(
        base_url=url.rstrip("/"), headers={"Authorization": f"Bearer {api_key}"}, timeout=REMOTE_TIMEOUT_S
    )
    try:
        yield Target(EvalClient(http), url, {}, lambda: None, lambda: None)
    finally:
        http.close()


@contextlib.contextmanager
def inprocess_target(files: Sequence[CorpusFile], generate: bool) -> Iterator[Target]:
    """The embedded app (SQLite, Qdrant Edge, in-process worker) under a TestClient; with `generate`, a vLLM
    server of our own on a free port, stopped on the way out."""
    from fastapi.testclient import TestClient
    from pydantic import SecretStr

    from services.core.settings import Settings
    from services.server import create_app
    from services.serving.server import free_port

    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    try:
        base = Settings()  # chunking and the embedding model come from the environment / config like `serve`
    except Exception as exc:
        raise EvalError(f"invalid settings: {exc}") from exc
    key = cache_key(files, steward_version(), base.chunk_size_tokens, base.chunk_overlap_tokens, base.embedding_model)
    root = base.cache_dir / "eval"
    data_dir = root / key
    root.mkdir(parents=True, exist_ok=True)
    # Two evaluations of the same corpus wait for each other instead of sharing one SQLite file.
    with exclusive_lock(root / f".{key}.lock"), contextlib.ExitStack() as stack:
        if data_dir.exists() and not (data_dir / MARKER).is_file():
            _log(f"removing an incomplete evaluation data dir {data_dir}")
            shutil.rmtree(data_dir)
        reused = (data_dir / MARKER).is_file()
        data_dir.mkdir(parents=True, exist_ok=True)
        _log(f"{'reusing' if reused else 'building'} the ingested corpus in {data_dir}")

        server = _start_llm(base, data_dir) if generate else None
        if server is not None:
            stack.callback(server.stop)
        admin_key = f"stw_eval_{secrets.token_urlsafe(24)}"
        settings = Settings(
            profile="embedded",
            worker_mode="inprocess",
            vector_store="qdrant_edge",
            database_url="",  # filled in from data_dir
            broker_url="",
            data_dir=data_dir,
            cache_dir=base.cache_dir,
            admin_api_key=SecretStr(admin_key),
            llm_manage_server=False,
            # Without --generate nothing listens there: the server does without an LLM.
            llm_base_url=server.base_url if server is not None else f"http://127.0.0.1:{free_port()}/v1",
            chunk_size_tokens=base.chunk_size_tokens,
            chunk_overlap_tokens=base.chunk_overlap_tokens,
            embedding_model=base.embedding_model,
        )
        http = TestClient(
            create_app(settings), raise_server_exceptions=False, headers={"Authorization": f"Bearer {admin_key}"}
        )
        stack.enter_context(http)  # runs the lifespan: runtime, ingestion worker, LLM stack
        yield Target(
            client=EvalClient(http),
            description=f"in-process embedded profile, data dir {data_dir}"
            + (f", vLLM {server.base_url}" if server else ""),
            settings=_reported_settings(settings),
            mark_ingested=lambda: _write_marker(data_dir, key),
            wait_for_llm=(lambda: _wait_llm(server, base.llm_start_timeout_s)) if server else lambda: None,
            runtime=http.app.state.runtime,  # type: ignore[attr-defined]
        )


def _reported_settings(settings: Settings) -> dict[str, Any]:
    names = ("chunk_size_tokens", "chunk_overlap_tokens", "embedding_model", "min_relevance", "llm_model")
    return {name: getattr(settings, name) for name in names if hasattr(settings, name)}


def _write_marker(data_dir: Path, key: str) -> None:
    (data_dir / MARKER).write_text(json.dumps({"key": key, "steward": steward_version()}) + "\n")


def _start_llm(settings: Settings, data_dir: Path) -> VLLMServer:
    """Build (once) and start the embedded model on a free port, as `steward serve` does; not waited for."""
    from services.serving.build import build_servable_model
    from services.serving.profiles import get_profile
    from services.serving.server import VLLMServer, free_port

    server = VLLMServer(
        model_dir=build_servable_model(settings.cache_dir),
        port=free_port(),
        served_model_name=settings.llm_model,
        kv_cache_gib=settings.llm_kv_cache_gib,
        max_model_len=settings.llm_max_model_len,
        cache_dir=settings.cache_dir,
        log_path=data_dir / "vllm.log",
        profile=get_profile(settings.llm_serving_profile),
    )
    server.start()
    _log(f"vLLM starting on {server.base_url} (log: {data_dir / 'vllm.log'})")
    return server


def _wait_llm(server: VLLMServer, timeout_s: float) -> None:
    _log("waiting for vLLM to be ready")
    try:
        server.wait_ready(timeout_s)
    except RuntimeError as exc:
        raise EvalError(f"the LLM did not start: {exc}") from exc

"""Settings and credentials for test apps: a throwaway data dir, a known admin key, no model unless asked."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from services.core.settings import Settings
from tests.support.processes import free_port

ADMIN_KEY = "stw_test_admin_key_4f9c2a7d1e8b3c6f0a5d"


def make_settings(data_dir: Path, **overrides: Any) -> Settings:
    """Embedded-profile settings confined to `data_dir`; the LLM points at a closed port unless overridden."""
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "admin_api_key": ADMIN_KEY,
        "llm_base_url": f"http://127.0.0.1:{free_port()}/v1",
        "llm_manage_server": False,
        "broker_poll_interval_s": 0.1,
        # Test apps keep the encoder in their own process: a replica process costs seconds to start, and the
        # suite builds many apps. Replica processes are tested in tests/core/test_embedding_replicas.py, and
        # every `steward serve` and `steward worker` the e2e and worker tests start runs them (the default).
        "embedding_processes": False,
        # The full-disk guard gives each new vector shard its ~190 MB of blocks, and the suite builds hundreds of
        # shards. It is tested in tests/core/test_vector_disk.py, and `steward serve` in the e2e tests runs it.
        "vector_disk_reserve_mb": 0,
    }
    values.update(overrides)
    return Settings(**values)


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}

"""The public contract: /openapi.json equals the committed snapshot, so every change to the API is deliberate.

After a deliberate change, regenerate the snapshot with `python -m tests.support.openapi > tests/data/openapi.json`
and review its diff like code."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.support.openapi import current_schema

SNAPSHOT = Path(__file__).parents[1] / "data" / "openapi.json"


def normalised(value: Any) -> Any:
    """The schema with JSON Schema's `required` lists as sets: their order carries no meaning."""
    if isinstance(value, dict):
        return {k: sorted(v) if k == "required" and isinstance(v, list) else normalised(v) for k, v in value.items()}
    if isinstance(value, list):
        return [normalised(v) for v in value]
    return value


def test_openapi_matches_the_committed_snapshot(tmp_path: Path) -> None:
    current = normalised(current_schema(tmp_path))
    committed = normalised(json.loads(SNAPSHOT.read_text()))
    changed = sorted(
        path
        for path in set(current["paths"]) | set(committed["paths"])
        if current["paths"].get(path) != committed["paths"].get(path)
    )
    schemas = current["components"]["schemas"], committed["components"]["schemas"]
    changed_schemas = sorted(n for n in set(schemas[0]) | set(schemas[1]) if schemas[0].get(n) != schemas[1].get(n))
    assert (changed, changed_schemas) == ([], []), "the API changed; regenerate the snapshot if deliberate"
    assert current == committed

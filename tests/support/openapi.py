"""The app's OpenAPI document, as the contract test compares it; run as a module to print a new snapshot."""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from services.server import create_app
from tests.support.settings import make_settings


def current_schema(data_dir: Path) -> dict[str, Any]:
    """Built without starting the app: the schema depends on the routes, not on any backend."""
    schema: dict[str, Any] = create_app(make_settings(data_dir)).openapi()
    return schema


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as folder:
        json.dump(current_schema(Path(folder)), sys.stdout, indent=1, sort_keys=True)
        sys.stdout.write("\n")

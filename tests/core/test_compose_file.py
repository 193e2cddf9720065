"""The production profile's compose file follows the Compose Specification's JSON schema (the copy vendored by
check-jsonschema), checked by `make lint` and here; the check refuses a file that breaks the schema."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def check(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_compose_file_follows_the_compose_specification() -> None:
    result = check(ROOT / "docker-compose.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_schema_check_refuses_a_misspelt_key_and_a_wrong_type(tmp_path: Path) -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    service = next(iter(compose["services"]))
    misspelt = dict(
        compose, services={**compose["services"], service: {**compose["services"][service], "restrat": "always"}}
    )
    wrong_type = dict(
        compose, services={**compose["services"], service: {**compose["services"][service], "ports": 8000}}
    )
    for name, broken, problem in (("misspelt", misspelt, "restrat"), ("wrong-type", wrong_type, "ports")):
        path = tmp_path / f"{name}.yml"
        path.write_text(yaml.safe_dump(broken))
        result = check(path)
        assert result.returncode != 0, name
        assert problem in result.stdout + result.stderr, result.stdout

"""Settings: profiles fill sensible defaults, secrets are enforced, backends name their valid choices."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from services.core.errors import ConfigurationError
from services.core.settings import Settings
from services.core.vectorstore import build_vector_store


def test_embedded_profile_uses_local_files(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    assert settings.database_url == f"sqlite:///{tmp_path / 'steward.sqlite'}"
    assert settings.broker_url.startswith("sqla+sqlite:///")
    assert settings.vector_store == "qdrant_edge"


STRONG_KEY = "stw_9hQ2vX7cK4mT1pL8zR6wB3nY5dF0gJ"


def test_production_profile_uses_servers(tmp_path: Path) -> None:
    settings = Settings(profile="production", data_dir=tmp_path, vector_store="qdrant", admin_api_key=STRONG_KEY)
    assert settings.database_url.startswith("postgresql")
    assert settings.broker_url.startswith("redis://")


def test_placeholder_admin_key_is_refused_outside_dev_and_in_production() -> None:
    with pytest.raises(ValidationError, match="placeholder"):
        Settings(environment="prod")
    with pytest.raises(ValidationError, match="placeholder"):
        Settings(profile="production")
    assert Settings(environment="prod", admin_api_key=STRONG_KEY).environment == "prod"


@pytest.mark.parametrize("weak", ["a-real-secret", "x" * 40, "abcabcabcabcabcabcabcabcabcabcabcabc"])
def test_a_weak_admin_key_is_refused(weak: str) -> None:
    with pytest.raises(ValidationError, match="too weak"):
        Settings(admin_api_key=weak)


def test_the_placeholder_admin_key_answers_only_its_own_machine_in_dev() -> None:
    dev = Settings()
    assert dev.placeholder_admin_key_usable("127.0.0.1") and dev.placeholder_admin_key_usable("::1")
    assert not dev.placeholder_admin_key_usable("10.0.0.7") and not dev.placeholder_admin_key_usable(None)


def test_env_vars_and_yaml_file_are_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "steward.yaml"
    config.write_text("top_k: 9\nport: 9000\n")
    monkeypatch.setenv("STEWARD_CONFIG", str(config))
    monkeypatch.setenv("STEWARD_PORT", "9100")
    settings = Settings()
    assert settings.top_k == 9
    assert settings.port == 9100  # the environment wins over the file


def test_unknown_setting_is_an_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "steward.yaml"
    config.write_text("tpo_k: 9\n")
    monkeypatch.setenv("STEWARD_CONFIG", str(config))
    with pytest.raises(ValidationError, match="tpo_k"):
        Settings()


def test_unknown_vector_store_lists_the_valid_choices(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    object.__setattr__(settings, "vector_store", "chroma")
    with pytest.raises(ConfigurationError, match="valid choices: qdrant, qdrant_edge"):
        build_vector_store(settings)


def test_single_sign_on_is_off_by_default_and_needs_a_client_id(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().oidc_issuer is None
    with pytest.raises(ValidationError, match="STEWARD_OIDC_CLIENT_ID is required"):
        Settings(oidc_issuer="https://login.example.com")
    with pytest.raises(ValidationError, match="must use https outside dev"):
        Settings(
            oidc_issuer="http://login.example.com",
            oidc_client_id="steward",
            environment="prod",
            admin_api_key=STRONG_KEY,
        )
    monkeypatch.setenv("STEWARD_OIDC_ISSUER", "https://login.example.com")
    monkeypatch.setenv("STEWARD_OIDC_CLIENT_ID", "steward")
    monkeypatch.setenv("STEWARD_OIDC_ADMIN_GROUPS", "steward-admins, it-ops")
    assert Settings().oidc_admin_groups == ["steward-admins", "it-ops"]
    monkeypatch.setenv("STEWARD_OIDC_ADMIN_GROUPS", '["team, with a comma"]')
    assert Settings().oidc_admin_groups == ["team, with a comma"]

"""vLLM serving profiles: valid for vLLM's own parser, the compose file in sync, the embedded flags kept."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from services.cli.llm_commands import llm
from services.core.errors import ConfigurationError
from services.serving.profiles import DEFAULT_PROFILE, PRODUCTION_PROFILE, PROFILES, compose_command, get_profile
from services.serving.server import VLLMServer

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def vllm_parser() -> argparse.ArgumentParser:
    """The OpenAI server's own argument parser (imports vLLM, starts nothing)."""
    from vllm.entrypoints.launchers.cli_args import make_arg_parser
    from vllm.utils.argparse_utils import FlexibleArgumentParser

    return make_arg_parser(FlexibleArgumentParser())


def _argv(name: str) -> list[str]:
    profile = get_profile(name)
    return profile.vllm_args(model=None if profile.model else "/models/gemma3-270m")


@pytest.mark.parametrize("name", sorted(PROFILES))
def test_profile_args_parse_with_vllms_parser(vllm_parser: argparse.ArgumentParser, name: str) -> None:
    from vllm.engine.arg_utils import AsyncEngineArgs
    from vllm.entrypoints.launchers.cli_args import validate_parsed_serve_args

    profile = get_profile(name)
    argv = _argv(name)
    # argparse accepts unambiguous prefixes: insist on the full option names so a typo cannot slip through.
    known = set(vllm_parser._option_string_actions)
    assert [arg for arg in argv if arg.split("=", 1)[0] not in known] == []
    namespace = vllm_parser.parse_args(argv)
    validate_parsed_serve_args(namespace)
    # Each value must land on the engine argument of the same name (constructing EngineArgs would resolve the model).
    engine_fields = {field.name for field in dataclasses.fields(AsyncEngineArgs)}
    expected = {
        "dtype": profile.dtype,
        "max_model_len": profile.max_model_len,
        "max_num_seqs": profile.max_num_seqs,
        "max_num_batched_tokens": profile.max_num_batched_tokens,
        "enable_prefix_caching": profile.enable_prefix_caching,
        "enable_chunked_prefill": profile.enable_chunked_prefill,
        "kv_cache_dtype": profile.kv_cache_dtype,
        "tensor_parallel_size": profile.tensor_parallel_size,
        "enforce_eager": profile.enforce_eager,
        "language_model_only": profile.language_model_only,
        "scheduling_policy": profile.scheduling_policy,
    }
    if profile.block_size is not None:
        expected["block_size"] = profile.block_size
    if profile.gpu_memory_utilization is not None:
        expected["gpu_memory_utilization"] = profile.gpu_memory_utilization
    assert set(expected) <= engine_fields
    assert {key: getattr(namespace, key) for key in expected} == expected
    assert namespace.served_model_name == ["steward-gemma"]
    assert namespace.disable_uvicorn_access_log is profile.disable_access_log
    assert not namespace.disable_log_stats  # Steward's admission control reads vLLM's /metrics


def test_docker_compose_vllm_command_is_the_default_gpu_profile() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    expected = get_profile("gpu-gemma4-e4b").vllm_args(
        model="${STEWARD_LLM_HF_MODEL:-google/gemma-4-E4B-it}",
        served_model_name="${STEWARD_LLM_MODEL:-steward-gemma}",
    )
    assert compose["services"]["vllm"]["command"] == expected
    assert compose_command(get_profile(PRODUCTION_PROFILE)) == expected
    # The API asks for the same model name that vLLM serves.
    assert compose["x-steward-env"]["STEWARD_LLM_MODEL"] == "${STEWARD_LLM_MODEL:-steward-gemma}"


def test_compose_command_prints_what_the_compose_file_holds() -> None:
    result = CliRunner().invoke(llm, ["compose", PRODUCTION_PROFILE])
    assert result.exit_code == 0, result.output
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert yaml.safe_load(result.output) == compose["services"]["vllm"]["command"]


def test_args_command_prints_one_argument_per_line() -> None:
    result = CliRunner().invoke(llm, ["args", "gpu-gemma4-31b", "--port", "9000", "--served-model-name", "x"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == get_profile("gpu-gemma4-31b").vllm_args(served_model_name="x", port=9000)
    assert "--tensor-parallel-size=2" in result.output.splitlines()


def test_profiles_command_lists_every_profile() -> None:
    result = CliRunner().invoke(llm, ["profiles"])
    assert result.exit_code == 0, result.output
    for name, profile in PROFILES.items():
        assert f"{name} " in result.output
        assert profile.description in result.output


def test_unknown_profile_names_the_valid_ones() -> None:
    with pytest.raises(ConfigurationError) as error:
        get_profile("gpu-gemma5")
    for name in PROFILES:
        assert name in error.value.message
    result = CliRunner().invoke(llm, ["args", "gpu-gemma5"])
    assert result.exit_code != 0
    assert "gpu-gemma4-e4b" in result.output


def test_cpu_profile_keeps_the_measured_embedded_flags() -> None:
    profile = get_profile(DEFAULT_PROFILE)
    argv = profile.vllm_args(model="/models/gemma3-270m")
    for flag in (
        "--dtype=float32",
        "--enforce-eager",
        "--enable-prefix-caching",
        "--max-model-len=4096",
        "--block-size=32",
    ):
        assert flag in argv
    assert not any(arg.startswith(("--gpu-memory-utilization", "--kv-cache-dtype")) for arg in argv)
    assert profile.cpu_env() == {"VLLM_CPU_KVCACHE_SPACE": "2"}
    with pytest.raises(ConfigurationError):
        profile.vllm_args()  # the embedded model has no hub id: its built directory must be given


def test_gpu_profiles_are_text_only_bf16_and_sized() -> None:
    for profile in PROFILES.values():
        if profile.device == "gpu":
            assert profile.model is not None and profile.model.startswith("google/gemma-4-")
            assert profile.dtype == "bfloat16"
            assert profile.language_model_only
            assert profile.gpu_memory_utilization is not None and 0.5 < profile.gpu_memory_utilization < 0.95
            assert profile.cpu_env() == {}
    assert get_profile("gpu-gemma4-31b").tensor_parallel_size == 2


def test_server_builds_the_embedded_command_from_the_profile(tmp_path: Path) -> None:
    server = VLLMServer(tmp_path / "model", 8123, cache_dir=tmp_path, kv_cache_gib=3, max_model_len=2048)
    assert server.command()[1:] == [
        "-m", "vllm.entrypoints.openai.api_server",
        f"--model={tmp_path / 'model'}", "--served-model-name=steward-gemma", "--host=127.0.0.1", "--port=8123",
        "--dtype=float32", "--enforce-eager", "--max-model-len=2048", "--enable-prefix-caching", "--block-size=32",
        "--disable-uvicorn-access-log",
    ]  # fmt: skip
    assert server.env()["VLLM_CPU_KVCACHE_SPACE"] == "3"
    assert server.max_model_len == 2048


def test_server_defaults_come_from_the_profile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VLLM_CPU_KVCACHE_SPACE", raising=False)
    monkeypatch.delenv("VLLM_CPU_NUM_OF_RESERVED_CPU", raising=False)
    server = VLLMServer(tmp_path, 8124, cache_dir=tmp_path)
    assert server.max_model_len == 4096
    assert server.env()["VLLM_CPU_KVCACHE_SPACE"] == "2"
    assert server.env()["VLLM_CPU_NUM_OF_RESERVED_CPU"] == "0"
    gpu = VLLMServer("google/gemma-4-E4B-it", 8125, cache_dir=tmp_path, profile=get_profile(PRODUCTION_PROFILE))
    assert "--model=google/gemma-4-E4B-it" in gpu.command()
    assert "--max-model-len=16384" in gpu.command()
    assert not {"VLLM_CPU_KVCACHE_SPACE", "VLLM_CPU_NUM_OF_RESERVED_CPU"} & set(gpu.env())

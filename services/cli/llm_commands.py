"""`steward llm`: list the vLLM serving profiles and print the exact server arguments of one."""

from __future__ import annotations

import json
from dataclasses import replace

import click
import yaml

from services.core.errors import ConfigurationError
from services.serving.profiles import PROFILES, ServingProfile, compose_command, get_profile


def _profile(name: str, tensor_parallel_size: int | None) -> ServingProfile:
    try:
        profile = get_profile(name)
    except ConfigurationError as exc:
        raise click.ClickException(exc.message) from exc
    if tensor_parallel_size is not None:
        profile = replace(profile, tensor_parallel_size=tensor_parallel_size)
    return profile


def _yaml_item(arg: str) -> str:
    """One YAML list item, plain when YAML reads it back unchanged, JSON-quoted otherwise."""
    plain = f"- {arg}"
    return plain if yaml.safe_load(plain) == [arg] else f"- {json.dumps(arg)}"


_tp_option = click.option(
    "--tensor-parallel-size", type=click.IntRange(min=1), default=None, help="Override the profile's GPU count."
)


@click.group()
def llm() -> None:
    """vLLM serving profiles: how the LLM server is launched (see docs/llm-serving.md)."""


@llm.command("profiles")
def profiles() -> None:
    """List the serving profiles with their key numbers."""
    rows = [["PROFILE", "DEVICE", "CONTEXT", "SEQS", "TP", "KV CACHE", "DESCRIPTION"]]
    for p in PROFILES.values():
        kv = p.dtype if p.kv_cache_dtype == "auto" else p.kv_cache_dtype
        kv += f" ({p.cpu_kvcache_gib} GiB)" if p.cpu_kvcache_gib is not None else ""
        seqs = "auto" if p.max_num_seqs is None else str(p.max_num_seqs)
        rows.append([p.name, p.device, str(p.max_model_len), seqs, str(p.tensor_parallel_size), kv, p.description])
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        click.echo("  ".join([*(cell.ljust(width) for cell, width in zip(row, widths, strict=False)), row[-1]]))


@llm.command("args")
@click.argument("profile_name", metavar="PROFILE")
@click.option("--model", default=None, help="Model id or directory (required for the locally built CPU model).")
@click.option("--served-model-name", default="steward-gemma", show_default=True, help="Name clients ask for.")
@click.option("--host", default="0.0.0.0", show_default=True)
@click.option("--port", type=int, default=8000, show_default=True)
@_tp_option
def args(
    profile_name: str, model: str | None, served_model_name: str, host: str, port: int, tensor_parallel_size: int | None
) -> None:
    """Print the vLLM server arguments of PROFILE, one per line."""
    profile = _profile(profile_name, tensor_parallel_size)
    try:
        argv = profile.vllm_args(model=model, served_model_name=served_model_name, host=host, port=port)
    except ConfigurationError as exc:
        raise click.ClickException(f"{exc.message} (--model PATH)") from exc
    for arg in argv:
        click.echo(arg)


@llm.command("compose")
@click.argument("profile_name", metavar="PROFILE")
@_tp_option
def compose(profile_name: str, tensor_parallel_size: int | None) -> None:
    """Print PROFILE as the YAML list for the vllm service's `command:` in docker-compose.yml."""
    try:
        argv = compose_command(_profile(profile_name, tensor_parallel_size))
    except ConfigurationError as exc:
        raise click.ClickException(exc.message) from exc
    for arg in argv:
        click.echo(_yaml_item(arg))

"""The servable Gemma build: tokenizer with <bos>, Gemma turn template, and a cached, crash-safe, once-only build."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from transformers import AutoTokenizer, GenerationConfig, PreTrainedTokenizerBase

from services.serving import build
from services.serving.build import MARKER, build_servable_model, default_cache_dir


@pytest.fixture(scope="module")
def model_dir() -> Path:
    """The real build in the real cache dir, so the suite (and vLLM tests) reuse it across runs."""
    return build_servable_model(default_cache_dir())


@pytest.fixture(scope="module")
def tokenizer(model_dir: Path) -> PreTrainedTokenizerBase:
    return AutoTokenizer.from_pretrained(model_dir)


def test_built_tokenizer_prepends_bos(tokenizer: PreTrainedTokenizerBase) -> None:
    ids = tokenizer("Where is the Steward office?").input_ids
    assert tokenizer.convert_ids_to_tokens(ids)[0] == "<bos>"
    assert ids.count(tokenizer.bos_token_id) == 1


def test_chat_template_renders_gemma_turns_with_system_in_first_user_turn(tokenizer: PreTrainedTokenizerBase) -> None:
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": "Answer from the sources."},
        {"role": "user", "content": "[1] The office is in Lisbon.\nWhere is the office?"},
        {"role": "assistant", "content": "In Lisbon [1]."},
        {"role": "user", "content": [{"type": "text", "text": "Since when?"}]},
    ]
    rendered = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)  # type: ignore[arg-type]
    assert rendered == (
        "<bos><start_of_turn>user\nAnswer from the sources.\n\n[1] The office is in Lisbon.\nWhere is the office?"
        "<end_of_turn>\n<start_of_turn>model\nIn Lisbon [1].<end_of_turn>\n"
        "<start_of_turn>user\nSince when?<end_of_turn>\n<start_of_turn>model\n"
    )


def test_chat_template_tokenizes_to_a_single_bos(tokenizer: PreTrainedTokenizerBase) -> None:
    rendered = tokenizer.apply_chat_template(
        [{"role": "user", "content": "Hi"}], tokenize=False, add_generation_prompt=True
    )
    # vLLM tokenizes the rendered chat without adding special tokens again.
    ids = tokenizer(str(rendered), add_special_tokens=False).input_ids
    assert tokenizer.convert_ids_to_tokens(ids) == [
        "<bos>", "<start_of_turn>", "user", "\n", "Hi", "<end_of_turn>", "\n", "<start_of_turn>", "model", "\n",
    ]  # fmt: skip


def test_generation_stops_at_end_of_turn(model_dir: Path, tokenizer: PreTrainedTokenizerBase) -> None:
    eos_ids = GenerationConfig.from_pretrained(model_dir).eos_token_id
    assert tokenizer.convert_tokens_to_ids("<end_of_turn>") in eos_ids
    assert tokenizer.eos_token_id in eos_ids


def test_second_build_returns_same_path_without_rebuilding(model_dir: Path) -> None:
    marker_mtime = (model_dir / MARKER).stat().st_mtime_ns
    started = time.monotonic()
    assert build_servable_model(default_cache_dir()) == model_dir
    assert time.monotonic() - started < 1.0
    assert (model_dir / MARKER).stat().st_mtime_ns == marker_mtime
    assert (model_dir / "model.safetensors").is_file()


def _fake_build(calls: list[int]) -> Callable[[Path], None]:
    """A stand-in for the minute-long conversion that writes the marker last, like the real one."""

    def fake(out: Path) -> None:
        calls.append(1)
        time.sleep(0.2)
        (out / "config.json").write_text("{}")
        (out / MARKER).write_text("{}")

    return fake


def test_concurrent_builders_build_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    monkeypatch.setattr(build, "_build_into", _fake_build(calls))
    results: list[Path] = []
    threads = [threading.Thread(target=lambda: results.append(build_servable_model(tmp_path))) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(calls) == 1
    assert len(set(results)) == 1
    assert (results[0] / MARKER).is_file()


def test_crashed_build_leaves_nothing_and_next_build_cleans_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def crash(out: Path) -> None:
        (out / "model.safetensors").write_text("half")
        raise KeyboardInterrupt

    monkeypatch.setattr(build, "_build_into", crash)
    with pytest.raises(KeyboardInterrupt):
        build_servable_model(tmp_path)
    assert not [path for path in (tmp_path / "models").iterdir() if path.is_dir()]

    # Leftovers of a build killed with SIGKILL (no cleanup ran): a temp dir and a target without marker.
    name = f"gemma3-270m-{build.model_key()}"
    (tmp_path / "models" / f".{name}.tmp-dead").mkdir()
    (tmp_path / "models" / name).mkdir()
    calls: list[int] = []
    monkeypatch.setattr(build, "_build_into", _fake_build(calls))
    target = build_servable_model(tmp_path)
    assert calls == [1]
    assert (target / MARKER).is_file()
    assert sorted(path.name for path in (tmp_path / "models").iterdir() if path.is_dir()) == [name]

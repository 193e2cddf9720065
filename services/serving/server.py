"""Run vLLM's OpenAI-compatible server as a child process (flags from a serving profile), stop its process group."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections import deque
from dataclasses import replace
from pathlib import Path
from types import TracebackType
from typing import IO

import httpx

from services.serving.profiles import DEFAULT_PROFILE, ServingProfile, get_profile


def free_port() -> int:
    """A TCP port on the loopback interface that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class VLLMServer:
    """One vLLM server process serving a local model directory (or HF id) under a fixed name, per a profile."""

    def __init__(
        self,
        model_dir: Path | str,
        port: int,
        *,
        cache_dir: Path,
        served_model_name: str = "steward-gemma",
        kv_cache_gib: int | None = None,
        max_model_len: int | None = None,
        host: str = "127.0.0.1",
        log_path: Path | None = None,
        profile: ServingProfile | None = None,
    ) -> None:
        profile = profile or get_profile(DEFAULT_PROFILE)
        if max_model_len is not None:
            profile = replace(profile, max_model_len=max_model_len)
        self.profile = profile
        self.model_dir = Path(model_dir)
        self.port = port
        self.cache_dir = Path(cache_dir)
        self.served_model_name = served_model_name
        self.kv_cache_gib = kv_cache_gib if kv_cache_gib is not None else profile.cpu_kvcache_gib
        self.max_model_len = profile.max_model_len
        self.host = host
        self.log_path = Path(log_path) if log_path else self.cache_dir / "logs" / f"vllm-{port}.log"
        self._process: subprocess.Popen[bytes] | None = None
        self._log_file: IO[bytes] | None = None

    @property
    def base_url(self) -> str:
        """OpenAI-compatible base URL, as the `openai` client wants it."""
        return f"http://{self.host}:{self.port}/v1"

    @property
    def _root_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def command(self) -> list[str]:
        """argv of the server; `vllm serve` is broken in the CPU wheel, the module entry point works."""
        return [
            sys.executable,
            "-m",
            "vllm.entrypoints.openai.api_server",
            *self.profile.vllm_args(
                model=str(self.model_dir), served_model_name=self.served_model_name, host=self.host, port=self.port
            ),
        ]

    def env(self) -> dict[str, str]:
        """Environment for the child: offline, no telemetry, every cache inside Steward's cache dir."""
        vllm_cache = self.cache_dir / "vllm"
        on_cpu = self.profile.device == "cpu"
        return {
            # vLLM keeps one core per worker off the model for its scheduler; on 2 cores that halves decoding
            # (measured 12 -> 16 tok/s for one request, 84 -> 125 tok/s for 8), so use all unless told otherwise.
            **({"VLLM_CPU_NUM_OF_RESERVED_CPU": "0"} if on_cpu else {}),
            **os.environ,
            **self.profile.cpu_env(self.kv_cache_gib),
            "VLLM_CACHE_ROOT": str(vllm_cache),
            "TORCHINDUCTOR_CACHE_DIR": str(vllm_cache / "torchinductor"),
            "TRITON_CACHE_DIR": str(vllm_cache / "triton"),
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
            "HF_DATASETS_OFFLINE": "1",
            "VLLM_NO_USAGE_STATS": "1",
            "DO_NOT_TRACK": "1",
            "PYTHONUNBUFFERED": "1",
        }

    def start(self) -> None:
        """Launch the server in its own process group (so stop() reaches its workers) without waiting."""
        if self.is_running():
            return
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log_file = self.log_path.open("ab")
        self._process = subprocess.Popen(
            self.command(),
            env=self.env(),
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def pid(self) -> int | None:
        """The server's process id (also its process group id)."""
        return self._process.pid if self._process is not None else None

    def is_running(self) -> bool:
        """True while the child process is alive."""
        return self._process is not None and self._process.poll() is None

    def wait_ready(self, timeout_s: float = 600.0) -> None:
        """Block until /health answers and the model is listed; raise with the log tail if it dies or times out."""
        deadline = time.monotonic() + timeout_s
        with httpx.Client(timeout=5.0) as client:
            while True:
                if not self.is_running():
                    code = None if self._process is None else self._process.returncode
                    raise RuntimeError(f"vLLM exited (code {code}) before it was ready\n{self.log_tail()}")
                with contextlib.suppress(httpx.HTTPError):
                    if client.get(f"{self._root_url}/health").status_code == 200:
                        models = client.get(f"{self.base_url}/models").json()
                        if any(model.get("id") == self.served_model_name for model in models.get("data", [])):
                            return
                if time.monotonic() > deadline:
                    raise RuntimeError(f"vLLM was not ready within {timeout_s:.0f} s\n{self.log_tail()}")
                time.sleep(1.0)

    def log_tail(self, lines: int = 40) -> str:
        """The last lines of the server log, for error messages."""
        try:
            with self.log_path.open("rb") as handle:
                tail = deque(handle, maxlen=lines)
        except FileNotFoundError:
            return f"(no log at {self.log_path})"
        return f"--- last {len(tail)} lines of {self.log_path} ---\n" + b"".join(tail).decode(errors="replace")

    def stop(self, grace_s: float = 20.0) -> None:
        """SIGTERM the whole process group, SIGKILL it if it is still there after grace_s."""
        process, self._process = self._process, None
        if process is not None:
            self._signal_group(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                self._signal_group(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
            # Workers left behind by a leader that exited first still sit in its group.
            self._signal_group(process.pid, signal.SIGKILL)
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    @staticmethod
    def _signal_group(pgid: int, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, sig)

    def __enter__(self) -> VLLMServer:
        self.start()
        try:
            self.wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

"""One copy of the embedding model, in this process or in a process of its own.

Why a process of its own: the model's forward pass gives the GIL back at every tensor operation and must take it
again for the Python between them (each of MiniLM's twelve layers is a dozen Python calls). Any other thread of
the process that runs Python (an upload, an ingestion task's bookkeeping, a search) then makes every one of
those re-acquisitions wait up to a switch interval. Measured (bench/ingest.py's encoder, two replicas, passes of
eight): 5.2 ms a text alone, 44 ms a text beside a single thread running Python, 8.2 ms beside a *process*
running Python (a fair share of two cores). A replica process pays a pipe round trip a pass (texts in, a float32
array out) and its own copy of the weights (about 90 MB).
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import threading
from multiprocessing.connection import Connection
from typing import Any, Protocol

import numpy as np

from services.core.errors import EmbedderUnavailable

log = logging.getLogger(__name__)

# Start-up (importing torch and loading the weights) on a busy machine; a replica slower than this is broken.
START_TIMEOUT_S = 300.0


class Replica(Protocol):
    dimension: int

    def encode(self, texts: list[str], approximate: bool = False) -> np.ndarray:
        """Normalised vectors, one row per text, in order; `approximate`: from the int8 copy (see Models)."""
        ...

    def close(self) -> None: ...


def load_model(path: str, *, single_thread: bool) -> Any:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch  # heavy: imported only where a model lives
    from sentence_transformers import SentenceTransformer

    if single_thread:
        torch.set_num_threads(1)  # one core per replica; together they use them all
    return SentenceTransformer(path, device="cpu")


class Models:
    """The model, and beside it a copy with int8 weights in its linear layers (dynamic quantisation, built the
    first time it is asked for, in a fraction of a second, about 74 MB, once a process: _approximate).

    The copy costs about a third of the CPU a text (bench/extractive.py) but its vectors are not the model's:
    a vector of the copy is only ever compared with other vectors of the copy: in one chat answer's grounding check
    and extractive quotes, where the sources' sentences come embedded by ingestion (answers/sentence_vectors.py,
    stored under Embedder.approximate_name, so another model or torch build never reads them). The copy scales its
    activations per pass, so a text's vector moves a little with the texts beside it (cosine 0.97 alone against
    in a batch), stored or not. Nothing it makes is searched; the one threshold its similarities meet, the check's,
    was measured again on them (bench/grounding.py
    --encoder: the copy alone gave the model's verdict on 139 of 141 sentences; near the threshold the model has
    the last word, grounding.CONFIRM_MARGIN, docs/governance.md)."""

    def __init__(self, path: str, *, single_thread: bool) -> None:
        self.path = path
        self.exact = load_model(path, single_thread=single_thread)

    def encode(self, texts: list[str], approximate: bool = False) -> np.ndarray:
        if not approximate:
            return encode_with(self.exact, texts)
        model, lock = _approximate(self.path)
        with lock:  # one copy a process, shared by its in-process replicas; its tokenizer is not thread-safe
            return encode_with(model, texts)


_APPROXIMATE: dict[str, tuple[Any, threading.Lock]] = {}
_APPROXIMATE_LOCK = threading.Lock()


def _approximate(path: str) -> tuple[Any, threading.Lock]:
    """The int8 copy of the model at `path`, made once a process (a test process builds dozens of apps, each
    with its own replicas: a copy each would add gigabytes)."""
    with _APPROXIMATE_LOCK:
        if path not in _APPROXIMATE:
            _APPROXIMATE[path] = (quantized(path), threading.Lock())
        return _APPROXIMATE[path]


def quantized(path: str) -> Any:
    """The model at `path` loaded again, its linear layers turned int8 in place: 74 MB more in the process,
    where quantising a deep copy of the loaded model kept about 300 MB (measured with /proc/self/statm)."""
    import warnings

    import torch

    model = load_model(path, single_thread=False)  # the thread count is the process's, set by the model's load
    with warnings.catch_warnings():
        # torch.ao's dynamic quantisation is deprecated in favour of the torchao package, which is not installed;
        # the pinned torch still ships it (checked by tests/core/test_embedding_replicas.py).
        warnings.simplefilter("ignore", category=DeprecationWarning)
        warnings.simplefilter("ignore", category=UserWarning)
        torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8, inplace=True)
    return model


def encode_with(model: Any, texts: list[str]) -> np.ndarray:
    return np.asarray(
        model.encode(
            texts,
            batch_size=max(len(texts), 1),
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        ),
        dtype=np.float32,
    )


class ThreadReplica:
    """The model in this process (tests, or one replica on one core, where nothing would be gained)."""

    def __init__(self, path: str, *, single_thread: bool) -> None:
        self._models = Models(path, single_thread=single_thread)
        self.dimension = int(self._models.exact.get_embedding_dimension() or 0)

    def encode(self, texts: list[str], approximate: bool = False) -> np.ndarray:
        return self._models.encode(texts, approximate)

    def close(self) -> None:
        pass


def _serve(connection: Connection, path: str) -> None:
    """The replica process: load the model, then encode each list of texts that arrives until told to stop.

    An error while encoding goes back as the reply (the pass fails, the process lives on); the parent closing its
    end, or dying, ends the loop."""
    models = Models(path, single_thread=True)
    connection.send(("ready", int(models.exact.get_embedding_dimension() or 0)))
    while True:
        try:
            request = connection.recv()
        except (EOFError, OSError):
            return
        if request is None:
            return
        try:
            texts, approximate = request
            connection.send(("ok", models.encode(texts, approximate)))
        except Exception as exc:  # reported to the caller, who raises it
            connection.send(("error", f"{type(exc).__name__}: {exc}"))


class ReplicaFailed(EmbedderUnavailable):
    """The replica process died or answered with an error (a 503 with Retry-After for an API client)."""


class ProcessReplica:
    """The model in a child process of its own, spoken to over a pipe; one pass at a time (the caller's lock).

    A replica that dies (killed, out of memory) is started again on the next pass, which then fails once with
    `ReplicaFailed`: the ingestion task retries, a search answers 503."""

    def __init__(self, path: str, *, name: str) -> None:
        self._path = path
        self._name = name
        self._lock = threading.Lock()
        self._process: Any = None
        self._connection: Connection | None = None
        self.dimension = self._start()

    def _start(self) -> int:
        context = multiprocessing.get_context("spawn")  # fork would copy this process's threads' locks
        parent, child = context.Pipe()
        process = context.Process(target=_serve, args=(child, self._path), name=self._name, daemon=True)
        process.start()
        child.close()
        if not parent.poll(START_TIMEOUT_S):
            process.kill()
            raise ReplicaFailed(f"embedding replica {self._name} did not start within {START_TIMEOUT_S:.0f} s")
        try:
            _, dimension = parent.recv()
        except EOFError:
            raise ReplicaFailed(
                f"embedding replica {self._name} exited while loading the model (code {process.exitcode})"
            ) from None
        self._process, self._connection = process, parent
        return int(dimension)

    def encode(self, texts: list[str], approximate: bool = False) -> np.ndarray:
        with self._lock:
            if self._connection is None:
                self._start()
            assert self._connection is not None
            try:
                self._connection.send((texts, approximate))
                status, result = self._connection.recv()
            except (EOFError, OSError) as exc:
                code = self._process.exitcode if self._process is not None else None
                self._discard()
                log.error("embedding replica %s died (exit code %s); it starts again next pass", self._name, code)
                raise ReplicaFailed(
                    f"the embedding replica {self._name} died (exit code {code}); "
                    "it restarts with the next request, retry shortly"
                ) from exc
        if status != "ok":
            raise ReplicaFailed(f"the embedding replica {self._name} failed: {result}")
        return result  # type: ignore[no-any-return]

    def _discard(self) -> None:
        if self._connection is not None:
            self._connection.close()
        if self._process is not None and self._process.is_alive():
            self._process.kill()
        if self._process is not None:
            self._process.join(5)
        self._process, self._connection = None, None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def close(self) -> None:
        with self._lock:
            if self._connection is not None:
                with contextlib.suppress(OSError):
                    self._connection.send(None)
            if self._process is not None:
                self._process.join(5)
            self._discard()

"""The embedding batcher: callers get their own vectors in order, replicas share the work, failures reach callers."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from services.core.embedding.batcher import EmbeddingBatcher


class RecordingEncoder:
    """Encodes a text as [len(text), hash-ish]; records each pass and how many ran at once."""

    def __init__(self, replicas: int = 2, batch_size: int = 4, delay_s: float = 0.02, fail_on: str = "") -> None:
        self._replicas = replicas
        self.batch_size = batch_size
        self.delay_s = delay_s
        self.fail_on = fail_on
        self.passes: list[list[str]] = []
        self.running = 0
        self.max_running = 0
        self._lock = threading.Lock()

    @property
    def replicas(self) -> int:
        return self._replicas

    def encode_pass(self, texts: list[str]) -> list[list[float]]:
        with self._lock:
            self.passes.append(list(texts))
            self.running += 1
            self.max_running = max(self.max_running, self.running)
        try:
            time.sleep(self.delay_s)
            if self.fail_on and self.fail_on in texts:
                raise ValueError(f"cannot encode {self.fail_on!r}")
            return [[float(len(t)), float(sum(map(ord, t)))] for t in texts]
        finally:
            with self._lock:
                self.running -= 1


def expected(texts: list[str]) -> list[list[float]]:
    return [[float(len(t)), float(sum(map(ord, t)))] for t in texts]


def test_each_caller_gets_its_own_vectors_in_order_from_pooled_full_passes() -> None:
    encoder = RecordingEncoder(replicas=2, batch_size=4)
    batcher = EmbeddingBatcher(encoder)
    callers = [[f"doc{d}-text{i}" + "x" * ((d * 7 + i * 3) % 11) for i in range(1 + d % 5)] for d in range(24)]
    try:
        with ThreadPoolExecutor(max_workers=8) as pool:
            results = list(pool.map(batcher.embed, callers))
    finally:
        batcher.close()
    assert results == [expected(texts) for texts in callers]
    assert all(len(p) <= 4 for p in encoder.passes)
    encoded = sorted(t for p in encoder.passes for t in p)
    assert encoded == sorted(t for texts in callers for t in texts)  # every text exactly once
    assert encoder.max_running == 2  # both replicas worked side by side
    # Texts of different documents shared passes: fewer passes than one-document-at-a-time would need.
    assert len(encoder.passes) < sum(-(-len(texts) // 4) for texts in callers)


def test_a_failed_pass_fails_its_callers_and_spares_the_others() -> None:
    encoder = RecordingEncoder(replicas=1, batch_size=2, delay_s=0.05, fail_on="poison")
    batcher = EmbeddingBatcher(encoder)
    try:
        with ThreadPoolExecutor(max_workers=2) as pool:
            bad = pool.submit(batcher.embed, ["poison", "p2"])
            bad.exception(timeout=5)  # the poisoned request fails before the healthy one is queued
            good = pool.submit(batcher.embed, ["fine", "also fine"])
            with pytest.raises(ValueError, match="poison"):
                bad.result(timeout=5)
            assert good.result(timeout=5) == expected(["fine", "also fine"])
    finally:
        batcher.close()


def test_close_fails_waiting_callers_and_refuses_new_work() -> None:
    encoder = RecordingEncoder(replicas=1, batch_size=1, delay_s=0.2)
    batcher = EmbeddingBatcher(encoder)
    with ThreadPoolExecutor(max_workers=1) as pool:
        waiting = pool.submit(batcher.embed, [f"t{i}" for i in range(20)])
        time.sleep(0.05)
        batcher.close()
        with pytest.raises(RuntimeError, match="closed"):
            waiting.result(timeout=5)
    with pytest.raises(RuntimeError, match="closed"):
        batcher.embed(["late"])


def test_no_text_waits_forever_behind_a_stream_of_shorter_ones() -> None:
    encoder = RecordingEncoder(replicas=1, batch_size=2, delay_s=0.01)
    batcher = EmbeddingBatcher(encoder)
    stop = threading.Event()

    def flood() -> None:
        while not stop.is_set():
            batcher.embed(["s", "s"])

    floods = [threading.Thread(target=flood) for _ in range(4)]
    for t in floods:
        t.start()
    try:
        with ThreadPoolExecutor(max_workers=1) as pool:
            long_text = "a much longer text than the flood"
            assert pool.submit(batcher.embed, [long_text]).result(timeout=5) == expected([long_text])
    finally:
        stop.set()
        for t in floods:
            t.join()
        batcher.close()

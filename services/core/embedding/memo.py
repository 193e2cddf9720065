"""Embedding each distinct text once within one piece of work.

One answer's grounding check reads the same source sentences for each of its sentences; profiled on the embedded
profile (bench/llm_gateway.py --profile), embedding them again each time was a quarter of Steward's CPU while vLLM
decoded on the same cores. The extractive answer ranks its quotes with the same memo, so a source sentence the
check compared is not embedded again to be quoted. The memo lives as long as the answer, so nothing is kept
between requests (a cache across requests would make repeated benchmark questions look cheaper than real ones).
What it may start with are the source sentences their passages brought from ingestion (answers/sentence_vectors.py),
which every chat citing those passages gets alike.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence

Embed = Callable[[Sequence[str]], list[list[float]]]


class MemoEmbed:
    """An embed function that passes only texts it has not embedded yet to the one it wraps."""

    def __init__(self, embed: Embed, known: Callable[[], Mapping[str, list[float]]] | None = None) -> None:
        self._embed = embed
        # `known` gives vectors of some texts, from the same encoder as `embed`, that need no pass. It is called at
        # the first call, not before: a chat's first sentence check, once the first tokens have left.
        self._pending = known
        self._known: dict[str, list[float]] = {}
        self._given = 0
        self._lock = threading.Lock()  # sentence checks and the fallback run on worker threads, one at a time

    def __call__(self, texts: Sequence[str]) -> list[list[float]]:
        with self._lock:
            if self._pending is not None:
                given, self._pending = self._pending(), None
                self._known.update(given)
                self._given = len(given)
            missing = [text for text in dict.fromkeys(texts) if text not in self._known]
            if missing:
                self._known.update(zip(missing, self._embed(missing), strict=True))
            return [self._known[text] for text in texts]

    @property
    def embedded(self) -> int:
        """How many distinct texts went to the wrapped embed function."""
        return len(self._known) - self._given

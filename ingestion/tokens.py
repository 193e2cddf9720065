"""Count text in the embedding model's own tokens, so chunks are sized by what the model actually reads."""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path
from typing import Any

from services.core.embedding.dense import resolve_model_path

# Used when the model directory says nothing about its sequence length (BERT-style models read 512).
DEFAULT_MAX_SEQ_LENGTH = 512


class TokenCounter:
    """Character spans of a model's tokens; only the fast tokenizer is loaded, never the model weights."""

    def __init__(self, tokenizer: Any, max_tokens: int) -> None:
        self._tokenizer = tokenizer
        self.max_tokens = max_tokens

    @classmethod
    def for_model(cls, model: str) -> TokenCounter:
        """The counter for a model setting (package name or directory), loaded once per process."""
        return _load(model)

    def spans(self, text: str) -> list[tuple[int, int]]:
        """(start, end) character offsets of each token in `text`, without special tokens."""
        if not text:
            return []
        return self._tokenizer.encode(text, add_special_tokens=False).offsets  # type: ignore[no-any-return]

    def count(self, text: str) -> int:
        return len(self.spans(text))


def _max_seq_length(directory: Path) -> int:
    """sentence-transformers truncates at max_seq_length (sentence_bert_config.json), else the tokenizer's limit."""
    for name, key in (("sentence_bert_config.json", "max_seq_length"), ("tokenizer_config.json", "model_max_length")):
        try:
            value = json.loads((directory / name).read_text(encoding="utf-8")).get(key)
        except (OSError, ValueError):
            continue
        if isinstance(value, int) and 0 < value < 1_000_000:  # tokenizers write 1e30 for "no limit"
            return value
    return DEFAULT_MAX_SEQ_LENGTH


@functools.cache
def _load(model: str) -> TokenCounter:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    directory = Path(resolve_model_path(model))
    if (directory / "tokenizer.json").is_file():
        # The fast tokenizer's own file: what AutoTokenizer would wrap, without importing transformers
        # (which drags in torch and takes seconds).
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
    else:
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(str(directory), use_fast=True).backend_tokenizer
    # The file may carry the padding/truncation it was saved with; counting needs neither.
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return TokenCounter(tokenizer, _max_seq_length(directory) - tokenizer.num_special_tokens_to_add(False))

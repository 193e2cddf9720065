"""What the benches share: the repo root, the evaluation set they read, its tune/held-out split, offline models.

Importing this sets the environment every bench needs before any model loads: the Hugging Face hub stays offline
(the weights are the shipped ones) and tokenizers do not start threads of their own on the two shared cores.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parents[1]
EVAL = ROOT / "tests" / "data" / "eval"
DATASET = EVAL / "questions.jsonl"
CORPUS = EVAL / "corpus"


def split_of(question_id: str) -> str:
    """A stable half: the same question is always in the same split, whatever else the set holds.

    `tune` is the half a change may be fitted on, `held_out` the half it is reported on.
    """
    return "tune" if hashlib.sha256(question_id.encode()).digest()[0] % 2 == 0 else "held_out"

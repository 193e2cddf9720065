"""`steward eval`: measure retrieval, refusals and citations over a labelled question set, through the public API.

One job per module: `dataset` (load + validate the JSONL), `metrics` (pure scoring functions), `client` (the HTTP
calls), `corpus` (upload or reuse the corpus, wait until it is searchable), `target` (which API: in-process with a
cached data dir, or a running server), `runner` (asks every question, scores it), `summary` (averages, calibration,
headline figures), `report` (Markdown, JSON, CSV, JSONL and PNG) and `command` (ties them together for the CLI).
"""

from services.eval.errors import EvalError

__all__ = ["EvalError"]

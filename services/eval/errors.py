"""The one exception type of the evaluation harness: its message is what the user sees."""

from __future__ import annotations


class EvalError(Exception):
    """The evaluation cannot go on (bad dataset, failed documents, an API error); the message says why."""

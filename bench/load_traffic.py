"""What the load test's users send: the eval set's questions and conversations, and short new articles.
Plain data, shared by bench/locustfile.py (which Locust runs under gevent) and bench/load.py (which must not
import Locust: its import patches the standard library for gevent)."""

from __future__ import annotations

import json

from bench.common import DATASET as QUESTIONS

ARTICLE = """# {title}

## Summary

{topic} is handled by the {team} team. Requests are answered within {days} working days.

## How to ask

Write to the {team} desk with the reference {reference}; urgent cases go through the on-call line.
"""


def _questions() -> tuple[list[str], list[tuple[str, str]]]:
    """Answerable single questions, and (opening, follow-up) pairs of the eval set's conversations."""
    fresh: list[str] = []
    conversations: list[tuple[str, str]] = []
    for line in QUESTIONS.read_text(encoding="utf-8").splitlines():
        item = json.loads(line)
        if not item.get("answerable"):
            continue
        history = item.get("history") or []
        if history:
            conversations.append((history[0]["content"], item["question"]))
        else:
            fresh.append(item["question"])
    return fresh, conversations


FRESH, CONVERSATIONS = _questions()

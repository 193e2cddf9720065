"""Questions the configured LLM writes about the indexed passages: training queries that are questions.

The corpus's own sentences and headings make pairs with no model at all, but they are statements, and training
on them made real questions rank worse in every run (docs/adaptation.md). A question the served model writes
about a passage is the shape of query the encoder meets in use. How much it helps depends on the model:
measured with the embedded Gemma 3 270M (a base model, prompted with two examples; bench/question_probe.py), 421
of 985 questions were usable and dense nDCG@10 on the eval set moved from 0.738 to 0.745 / 0.737 / 0.734 over
three training recipes, i.e. not at all. An instruction-tuned model (the GPU profiles' Gemma 4 -it) is asked
plainly, one passage at a time.

Every question is checked (`usable`) before it trains anything: the small model often repeats an example or asks
about something the passage never names.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal

import httpx

from services.core.adaptation.pairs import Passage
from services.core.errors import LLMUnavailable

log = logging.getLogger(__name__)

PromptStyle = Literal["chat", "base"]

INSTRUCTION = (
    "Write one question that an employee could ask and that this passage of the company's documents answers. "
    "Reply with the question only, on one line."
)
# Two examples about a company that is in no corpus; a base model imitates their form.
FEW_SHOT = (
    "Passage: Travel > Mileage\nStaff who drive their own car on company business are paid 0.42 euros per "
    "kilometre. Claims are filed in the expenses tool within 60 days of the trip.\n"
    "Question a colleague might ask: How much is paid per kilometre for using my own car?\n\n"
    "Passage: Printing > Colour printers\nThe colour printers on floors 2 and 5 need a badge. Toner is ordered "
    "by the office manager, not by the IT service desk.\n"
    "Question a colleague might ask: Who orders toner for the colour printers?\n\n"
)
MAX_PASSAGE_CHARS = 900  # the passage's head: enough to ask about, short enough for a 4k context and a quick prefill
MAX_QUESTION_TOKENS = 48
_QUESTION = re.compile(r"^[A-Z][^?\n]{10,200}\?$")
_WORD = re.compile(r"[a-z][a-z-]{3,}")
# Question words that say nothing about a passage.
_COMMON = frozenset(
    {
        "what", "when", "where", "which", "does", "much", "many", "long", "should", "could",
        "would", "there", "their", "about", "with", "from", "have", "this", "that",
    }
)  # fmt: skip


class QuestionsUnavailable(LLMUnavailable):
    """The LLM answered none of the requests: no question can be written (a 503 for an API client)."""


def usable(question: str, passage: str) -> bool:
    """One line ending in "?", not a copy of an example, and naming at least two words of its passage."""
    if not _QUESTION.match(question) or question in FEW_SHOT:
        return False
    words = set(_WORD.findall(question.lower())) - _COMMON
    return len(words & set(_WORD.findall(passage.lower()))) >= 2


class QuestionWriter:
    """Asks the OpenAI-compatible server at `base_url` (vLLM) for one question per passage. A client is opened
    per `write` (a tuning is rare; the runtime holds no connection for it)."""

    def __init__(
        self,
        *,
        base_url: str,
        model: str,
        style: PromptStyle,
        concurrency: int = 8,
        timeout_s: float = 120.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._base_url = base_url.rstrip("/") + "/"
        self._model = model
        self._style = style
        self._concurrency = concurrency
        self._timeout_s = timeout_s
        self._transport = transport  # tests

    def write(self, passages: Sequence[Passage], progress: Callable[[float], None] | None = None) -> dict[str, str]:
        """Passage id -> a usable question, for the passages the model wrote one for. A failed request loses
        only its passage; if every request fails, QuestionsUnavailable says why."""
        written: dict[str, str] = {}
        errors: list[str] = []
        with (
            httpx.Client(base_url=self._base_url, timeout=self._timeout_s, transport=self._transport) as http,
            ThreadPoolExecutor(max_workers=self._concurrency, thread_name_prefix="steward-questions") as pool,
        ):
            replies = pool.map(lambda passage: self._ask(http, passage), passages)
            for n, (passage, reply) in enumerate(zip(passages, replies, strict=True)):
                if isinstance(reply, Exception):
                    errors.append(f"{type(reply).__name__}: {reply}")
                elif usable(reply, f"{passage.heading}\n{passage.text}"):
                    written[passage.id] = reply
                if progress is not None and n % 20 == 0:
                    progress(n / len(passages))
        if passages and len(errors) == len(passages):
            raise QuestionsUnavailable(f"the LLM wrote no question: {errors[0]}")
        if errors:
            log.warning("%d of %d question requests failed, e.g. %s", len(errors), len(passages), errors[0])
        return written

    def _ask(self, http: httpx.Client, passage: Passage) -> str | Exception:
        text = f"{passage.heading}\n{passage.text}"[:MAX_PASSAGE_CHARS].strip()
        body: dict[str, Any] = {"model": self._model, "max_tokens": MAX_QUESTION_TOKENS, "temperature": 0}
        try:
            if self._style == "chat":
                body["messages"] = [{"role": "user", "content": f"{INSTRUCTION}\n\nPassage:\n{text}"}]
                response = http.post("chat/completions", json=body)
                response.raise_for_status()
                reply = response.json()["choices"][0]["message"]["content"]
            else:
                body |= {"prompt": f"{FEW_SHOT}Passage: {text}\nQuestion a colleague might ask:", "stop": ["\n"]}
                response = http.post("completions", json=body)
                response.raise_for_status()
                reply = response.json()["choices"][0]["text"]
        except (httpx.HTTPError, KeyError, IndexError, TypeError, ValueError) as exc:
            return exc
        return " ".join(str(reply or "").split())

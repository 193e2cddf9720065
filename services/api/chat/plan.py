"""The state one chat request carries from planning through generation to its record."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from services.api.chat.schemas import AnswerMode, SentenceOut
from services.core.access.principals import Caller
from services.core.answers.citations import CitableDocument, CitationBook
from services.core.answers.grounding import GroundingAction
from services.core.llm.gateway import TokenUsage
from services.core.llm.prompt import Prompt, PromptStyle, SourceDocument
from services.core.policy import PolicyDecision
from services.core.quota import Charge


@dataclass(frozen=True)
class GroundingSpec:
    """How this request's answer is checked: a policy rule for the caller, else the settings."""

    action: GroundingAction
    min_similarity: float
    min_overlap: float


@dataclass
class ChatPlan:
    """What a chat request will do once policy and retrieval have run; no model call has happened yet."""

    conversation_id: str
    caller: Caller
    question: str
    style: PromptStyle = "base"
    prompt: Prompt | None = None
    # Every document the model may cite in this turn, under its prompt number (earlier turns' ones included).
    context: dict[int, CitableDocument] = field(default_factory=dict)
    documents: list[SourceDocument] = field(default_factory=list)  # the sources this turn adds
    user_content: str | None = None  # this turn's user message as the model sees it (replayed by follow-ups)
    fixed_answer: str | None = None  # a refusal or "I don't know", given without calling the model
    refused: bool = False
    nearest: list[dict[str, str | float]] = field(default_factory=list)  # with "I don't know": where to look
    grounding: GroundingSpec | None = None
    # For the request's audit record (services/core/audit/log.record_chat_request):
    started: float = field(default_factory=time.perf_counter)
    query: str | None = None  # what was searched (the question, or its rewrite)
    chunk_ids: list[str] = field(default_factory=list)  # retrieved
    context_chunk_ids: list[str] = field(default_factory=list)  # put into the prompt
    decisions: list[PolicyDecision] = field(default_factory=list)
    usage: TokenUsage = field(default_factory=TokenUsage)
    charge: Charge | None = None  # what quotas were charged for the model call (unused tokens go back)

    @property
    def best_sources(self) -> list[tuple[int, str]]:
        """This turn's documents as (number, text), best first: what an extractive answer quotes."""
        return [(d.number, self.context[d.number].text) for d in self.documents if d.number in self.context]

    def outcome(self, mode: AnswerMode) -> str:
        if self.refused:
            return "refused"
        if self.prompt is None:
            return "no_sources"
        return "answered" if mode == "generated" else "extractive"


@dataclass
class Answer:
    """The answer as it is being given: what the caller was sent, and what the model itself produced."""

    book: CitationBook
    mode: AnswerMode = "generated"
    parts: list[str] = field(default_factory=list)  # the answer as shown, in the answer's citation numbering
    model_text: str = ""  # the model's raw output: quota settlement, and the turn a follow-up replays
    sentences: list[SentenceOut] = field(default_factory=list)
    grounding: dict[str, int | bool] | None = None  # the grounding check's counts, when it ran
    model_ended: float | None = None  # perf_counter() at the model's last token, when it was asked

    @property
    def text(self) -> str:
        return " ".join(part.strip() for part in self.parts if part.strip())

    @property
    def generated(self) -> bool:
        return self.mode == "generated"

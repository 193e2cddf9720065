"""The state one chat request carries from planning through generation to its record."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from services.api.chat.schemas import Citation
from services.core.access.principals import Caller
from services.core.answers.grounding import GroundingAction
from services.core.llm.gateway import TokenUsage
from services.core.llm.prompt import Prompt
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
    citations: list[Citation] = field(default_factory=list)
    prompt: Prompt | None = None
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

    def outcome(self, generated: bool) -> str:
        if self.refused:
            return "refused"
        if self.prompt is None:
            return "no_sources"
        return "answered" if generated else "sources_only"


@dataclass
class Answer:
    """The answer as it is being given: what the caller was sent, and what the model itself produced."""

    generated: bool
    parts: list[str] = field(default_factory=list)
    model_text: str = ""  # the model's raw output, for quota settlement
    grounding: dict[str, int | bool] | None = None  # the grounding check's counts, when it ran

    @property
    def text(self) -> str:
        return "".join(self.parts).strip()

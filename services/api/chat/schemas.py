"""Wire shapes of chat."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from services.api.fields import History, QueryText, RetrievalMode, RewriteChoice, SearchFilterFields
from services.api.search.schemas import SearchHit


class ChatRequest(BaseModel):
    question: QueryText
    conversation_id: str | None = Field(default=None, max_length=36)
    stream: bool = False
    top_k: int = Field(default=5, ge=1, le=20)
    mode: RetrievalMode | None = Field(default=None, description="default: the server's retrieval_mode setting")
    filters: SearchFilterFields | None = None
    history: History = Field(default=[], description="earlier turns, for callers that keep the conversation themselves")
    rewrite: RewriteChoice | None = Field(
        default=None,
        description="follow-up rewriting: auto (LLM when idle, else concat), llm, concat or off; "
        "default: the server's rewrite_mode setting",
    )
    priority: Literal["interactive", "batch"] | None = Field(
        default=None,
        description="batch requests are shed first when the model server is saturated; "
        "default: batch for app keys, interactive for people",
    )


class PassageOut(BaseModel):
    """One passage of a cited document, as the model was given it."""

    heading: str
    chunk_index: int
    text: str
    location: dict[str, str | int] = Field(default_factory=dict)


class Citation(SearchHit):
    """One cited document; `[n]` in the answer refers to `source` n. Numbers follow the order the answer first
    cites the documents, every marker in the answer names one of these, and every one of these is cited. The
    SearchHit fields describe its best passage; `passages` and `locations` are all the answer could draw on."""

    source: int
    score: float
    similarity: float = Field(description="cosine similarity of its best passage to the question")
    locations: list[dict[str, str | int]] = Field(
        default_factory=list, description="where the passages are: section (heading path), page, slide, sheet"
    )
    passages: list[PassageOut] = Field(default_factory=list)


class SentenceOut(BaseModel):
    """The grounding verdict on one sentence of a generated answer, as the `sentence` stream event gives it."""

    index: int
    text: str = Field(description="the sentence as shown, its citation markers in the answer's numbering")
    supported: bool
    reason: str = Field(description="why it is supported (by which source) or not")
    cited: list[int] = Field(description="the citations it names")
    source: int | None = Field(description="the citation whose text supports it best, if any")
    shown: bool = Field(description="false when policy (grounding hold) kept it from the answer")


AnswerMode = Literal["generated", "extractive", "refused", "not_found"]


class UsageOut(BaseModel):
    """Model tokens of the answer as vLLM counted them (0 when no model ran; null when it did not say)."""

    prompt_tokens: int | None
    completion_tokens: int | None


class ChatResponse(BaseModel):
    conversation_id: str
    message_id: str | None = Field(
        default=None, description="the answer's id: POST /v1/feedback rates it (thumbs up or down, a comment)"
    )
    answer: str
    mode: AnswerMode = Field(
        description="generated: written by the model and checked sentence by sentence; extractive: sentences "
        "quoted from the sources (no generated sentence held up, or the model is down); refused: a policy rule "
        "answered; not_found: nothing the caller may read covers it"
    )
    citations: list[Citation]
    sentences: list[SentenceOut] = Field(
        default_factory=list, description="the verdict on every generated sentence, in order (grounding)"
    )
    refused: bool = Field(description="a policy rule answered instead of the model")
    answered_from_sources: bool = Field(description="false when nothing relevant was found and no model ran")
    nearest: list[dict[str, str | float]] = Field(
        default=[], description='with an "I don\'t know" answer: the closest documents the caller may read'
    )
    generated: bool = Field(description="true when the answer text came from the language model")
    prompt_version: str
    usage: UsageOut | None = Field(default=None, description="model tokens used for this answer")
    grounding: dict[str, int | bool] | None = Field(
        default=None,
        description="the grounding check of a generated answer: sentences checked, unsupported, removed (held "
        "back), flagged (shown marked unsupported), invalid_citations (markers naming a source not in the "
        "context, removed) and fell_back (no generated sentence was supported: the answer is extractive)",
    )

"""`ChatSteward`: Steward's RAG chat (`POST /v1/chat`) as a LangChain chat model."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import Any, NoReturn

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LangSmithParams
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.tools import BaseTool
from pydantic import Field

from services.client import ChatAnswer, ChatEvent, DoneEvent, MetaEvent, TokenEvent
from services.client.models import Priority, RetrievalMode
from services.integrations.langchain.connection import StewardConnection
from services.integrations.langchain.messages import Question, answer_metadata, question_of, usage_of


class ChatSteward(StewardConnection, BaseChatModel):
    """Answers from the documents the API key may read, with numbered citations.

    The last human message is the question and earlier human and AI messages are the history; system messages
    are ignored, because Steward's prompt is governed by its policies. `response_metadata` carries `citations`
    (numbered as the answer's `[n]` markers), `sentences` (grounding verdicts), `mode`, `conversation_id` and
    `message_id`. Generation settings (temperature, max tokens, the model itself) are the server's: the
    standard `temperature` and `max_tokens` arguments are accepted and ignored, `stop` is refused, and there are
    no tools. Per call, `conversation_id`, `top_k`, `mode`, `filters` and `priority` may be given."""

    model: str = Field(default="steward", description="a label for traces; the server chooses the model")
    top_k: int | None = Field(default=None, ge=1, le=20, description="passages to answer from (server default 5)")
    mode: RetrievalMode | None = Field(default=None, description="dense, sparse or hybrid (default: the server's)")
    filters: dict[str, Any] | None = Field(default=None, description="restrict the sources, as for search")
    priority: Priority | None = Field(default=None, description="batch is shed first when the model is saturated")
    streaming: bool = Field(default=False, description="invoke() streams underneath, so callbacks see tokens")

    @property
    def _llm_type(self) -> str:
        return "steward"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"base_url": self.base_url, "model": self.model, "top_k": self.top_k, "mode": self.mode}

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> LangSmithParams:
        model = kwargs.get("model")
        params = LangSmithParams(
            ls_provider="steward",
            ls_model_name=model if isinstance(model, str) else self.model,
            ls_model_type="chat",
        )
        if stop:
            params["ls_stop"] = stop
        return params

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool],
        *,
        tool_choice: str | None = None,
        **kwargs: Any,
    ) -> NoReturn:
        raise NotImplementedError(
            "ChatSteward has no tool calling: it answers from the documents Steward retrieves. Use StewardRetriever "
            "as a tool of another model instead."
        )

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        question, options = self._request(messages, stop, kwargs)
        with self.client() as steward:
            answer = steward.chat(question.text, history=question.history, **options)
        return self._result(answer)

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        question, options = self._request(messages, stop, kwargs)
        async with self.async_client() as steward:
            answer = await steward.chat(question.text, history=question.history, **options)
        return self._result(answer)

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        question, options = self._request(messages, stop, kwargs)
        meta: MetaEvent | None = None
        with self.client() as steward:
            for event in steward.chat_stream(question.text, history=question.history, **options):
                meta = event if isinstance(event, MetaEvent) else meta
                chunk = self._chunk(event, meta)
                if chunk is not None:
                    if run_manager and isinstance(event, TokenEvent):
                        run_manager.on_llm_new_token(event.text, chunk=chunk)
                    yield chunk

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        question, options = self._request(messages, stop, kwargs)
        meta: MetaEvent | None = None
        async with self.async_client() as steward:
            async for event in steward.chat_stream(question.text, history=question.history, **options):
                meta = event if isinstance(event, MetaEvent) else meta
                chunk = self._chunk(event, meta)
                if chunk is not None:
                    if run_manager and isinstance(event, TokenEvent):
                        await run_manager.on_llm_new_token(event.text, chunk=chunk)
                    yield chunk

    def _request(
        self, messages: list[BaseMessage], stop: list[str] | None, kwargs: dict[str, Any]
    ) -> tuple[Question, dict[str, Any]]:
        """The question, and the chat options: this call's, else the model's."""
        if stop:
            raise ValueError("ChatSteward does not support stop sequences: the server writes and checks the answer")
        options = {
            "conversation_id": kwargs.get("conversation_id"),
            "top_k": kwargs.get("top_k", self.top_k),
            "mode": kwargs.get("mode", self.mode),
            "filters": kwargs.get("filters", self.filters),
            "priority": kwargs.get("priority", self.priority),
        }
        return question_of(messages), options

    def _result(self, answer: ChatAnswer) -> ChatResult:
        message = AIMessage(
            content=answer.answer,
            response_metadata=answer_metadata(answer, self.model),
            usage_metadata=usage_of(answer),
            id=answer.message_id,
        )
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _chunk(self, event: ChatEvent, meta: MetaEvent | None) -> ChatGenerationChunk | None:
        """A chunk per token; the last one (empty) carries the metadata of the `done` event. The streamed text's
        [n] markers number the sources as the model was given them (`response_metadata["sources"]`); the final
        answer (`response_metadata["answer"]`) numbers them as its `citations`."""
        if isinstance(event, TokenEvent):
            return ChatGenerationChunk(message=AIMessageChunk(content=event.text))
        if isinstance(event, DoneEvent):
            metadata = answer_metadata(event, self.model)
            metadata["answer"] = event.answer
            metadata["sources"] = [source.model_dump(mode="json") for source in meta.sources] if meta else []
            last = AIMessageChunk(
                content="",
                response_metadata=metadata,
                usage_metadata=usage_of(event),
                chunk_position="last",
            )
            return ChatGenerationChunk(message=last)
        return None

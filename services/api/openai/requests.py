"""An OpenAI chat completion request as a Steward chat request: the last user message is the question, earlier
user and assistant messages its history, the model id its knowledge scope. What cannot be honoured is refused."""

from __future__ import annotations

from pydantic import ValidationError

from services.api.chat.schemas import ChatRequest
from services.api.openai.schemas import ChatCompletionRequest, ChatMessage
from services.core.errors import ModelNotFound, UnsupportedParameter
from services.core.settings import Assistant

# History the chat takes: the last turns, each clipped (services/api/fields.py History).
MAX_TURNS = 20
MAX_TURN_CHARS = 8000


def _refuse_unsupported(body: ChatCompletionRequest) -> None:
    if body.n not in (None, 1):
        raise UnsupportedParameter("n", "n > 1 is not supported: Steward gives one checked answer per request.")
    if body.tools or body.functions:
        raise UnsupportedParameter(
            "tools" if body.tools else "functions", "Tool and function calling are not supported by Steward."
        )
    if body.tool_choice not in (None, "none", "auto") or body.function_call not in (None, "none", "auto"):
        raise UnsupportedParameter("tool_choice", "Tool and function calling are not supported by Steward.")
    if body.logprobs or body.top_logprobs:
        raise UnsupportedParameter("logprobs", "Log probabilities are not available from Steward's answers.")
    if body.stop:
        raise UnsupportedParameter("stop", "Stop sequences are not supported: answers end where grounding ends them.")
    if body.response_format and body.response_format.get("type", "text") != "text":
        raise UnsupportedParameter("response_format", "Only text answers are supported (response_format type text).")
    if (body.modalities and set(body.modalities) != {"text"}) or body.audio:
        raise UnsupportedParameter("modalities", "Only text answers are supported.")
    if body.prediction or body.web_search_options:
        raise UnsupportedParameter(
            "prediction" if body.prediction else "web_search_options", "This parameter is not supported by Steward."
        )


def _text(message: ChatMessage, index: int) -> str:
    if message.content is None:
        return ""
    if isinstance(message.content, str):
        return message.content
    parts = []
    for n, part in enumerate(message.content):
        if part.type != "text" or part.text is None:
            raise UnsupportedParameter(
                f"messages[{index}].content[{n}]", f"Content of type '{part.type}' is not supported; send text."
            )
        parts.append(part.text)
    return "\n".join(parts)


def assistant_for(model: str, assistants: list[Assistant]) -> Assistant:
    for assistant in assistants:
        if assistant.id == model:
            return assistant
    known = ", ".join(a.id for a in assistants)
    raise ModelNotFound(f"The model '{model}' does not exist. Models here: {known} (GET /v1/models).")


def to_chat_request(body: ChatCompletionRequest, assistant: Assistant) -> ChatRequest:
    _refuse_unsupported(body)
    turns: list[tuple[str, str]] = []
    for index, message in enumerate(body.messages):
        if message.role in ("tool", "function"):
            raise UnsupportedParameter(f"messages[{index}].role", "Tool messages are not supported by Steward.")
        if message.role == "assistant" and getattr(message, "tool_calls", None):
            raise UnsupportedParameter(f"messages[{index}].tool_calls", "Tool calls are not supported by Steward.")
        text = _text(message, index)
        # System and developer messages are not passed on: Steward's prompt is governed by its policies.
        if message.role in ("user", "assistant"):
            turns.append((message.role, text))
    if not turns or turns[-1][0] != "user":
        raise UnsupportedParameter("messages", "The last message must be from the user: it is the question.")
    question = turns[-1][1]
    history = [{"role": role, "content": text[:MAX_TURN_CHARS]} for role, text in turns[:-1]][-MAX_TURNS:]
    request = {
        "question": question,
        "history": history,
        "stream": bool(body.stream),
        "filters": {"tags": assistant.tags} if assistant.tags else None,
    }
    try:
        return ChatRequest.model_validate(request)
    except ValidationError as exc:
        problem = exc.errors()[0]
        where = (
            "messages" if problem["loc"][:1] in (("question",), ("history",)) else ".".join(map(str, problem["loc"]))
        )
        raise UnsupportedParameter(where, f"Invalid messages: {problem['msg']}.") from exc

"""LangChain's standard unit tests for ChatSteward (no server), and the message mapping it relies on.

(langchain-tests has no standard unit suite for retrievers; StewardRetriever runs the integration one.)"""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_tests.unit_tests import ChatModelUnitTests

from services.integrations.langchain import ChatSteward
from services.integrations.langchain.messages import MAX_TURNS, question_of


class TestChatStewardStandard(ChatModelUnitTests):
    @property
    def chat_model_class(self) -> type[ChatSteward]:
        return ChatSteward

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {"base_url": "http://steward.invalid:8000", "api_key": "stw_unit_test_key"}

    @property
    def init_from_env_params(self) -> tuple[dict[str, str], dict[str, Any], dict[str, Any]]:
        env = {"STEWARD_URL": "http://steward.example:8000", "STEWARD_API_KEY": "stw_from_env"}
        return env, {}, {"base_url": "http://steward.example:8000", "api_key": "stw_from_env"}

    # Steward answers from its own retrieval with its own prompt: no tools, no schema-shaped output.
    @property
    def has_tool_calling(self) -> bool:
        return False

    @property
    def has_structured_output(self) -> bool:
        return False

    # The server chooses the model; `model` only labels traces.
    @property
    def supports_model_override(self) -> bool:
        return False


def test_the_last_human_message_is_the_question_and_earlier_turns_the_history() -> None:
    question = question_of(
        [
            SystemMessage("Answer like a pirate."),  # ignored: Steward's prompt is its policies'
            HumanMessage("When does the garage open?"),
            AIMessage("At 06:30 [1]."),
            ToolMessage("irrelevant", tool_call_id="t1"),
            HumanMessage("And on Sundays?"),
        ]
    )
    assert question.text == "And on Sundays?"
    assert [(turn.role, turn.content) for turn in question.history] == [
        ("user", "When does the garage open?"),
        ("assistant", "At 06:30 [1]."),
    ]


def test_history_keeps_the_latest_turns_the_server_takes() -> None:
    turns = [HumanMessage(f"question {n}") if n % 2 == 0 else AIMessage(f"answer {n}") for n in range(30)]
    question = question_of([*turns, HumanMessage("last?")])
    assert len(question.history) == MAX_TURNS and question.history[-1].content == "answer 29"


def test_without_a_human_message_there_is_no_question() -> None:
    with pytest.raises(ValueError, match="human message"):
        question_of([SystemMessage("You are helpful.")])


def test_tools_and_stop_sequences_are_refused_with_a_reason() -> None:
    model = ChatSteward(base_url="http://steward.invalid", api_key="k")
    with pytest.raises(NotImplementedError, match="no tool calling"):
        model.bind_tools([])
    with pytest.raises(ValueError, match="stop sequences"):
        model.invoke("hi", stop=["\n"])

"""LangChain's standard integration suites for ChatSteward and StewardRetriever, against `steward serve` as a
process (embedded profile) with the session's real vLLM and a few documents indexed.

What does not apply is switched off through the suites' own properties (their tests then skip themselves):
tools, structured output, JSON mode, image/PDF/audio inputs, a per-call model (Steward answers with its own
retrieval, prompt and model). Stop sequences cannot work by design, so that test is an xfail with the reason."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from langchain_core.language_models import BaseChatModel
from langchain_tests.integration_tests import ChatModelIntegrationTests, RetrieversIntegrationTests

from services.integrations.langchain import ChatSteward, StewardRetriever
from tests.support.settings import ADMIN_KEY
from tests.support.stack import Documents, Served, steward_serve

pytestmark = pytest.mark.slow

DOCUMENTS: Documents = [
    ("garage.md", "Parking garage", "The Steward parking garage opens at 06:30 on weekdays.", "everyone"),
    ("wifi.md", "Guest Wi-Fi", "The guest Wi-Fi password is tulip42; it changes every Monday.", "everyone"),
    ("helpdesk.md", "IT helpdesk", "The IT helpdesk answers on extension 4357 from 8:00 to 18:00.", "everyone"),
    ("canteen.md", "Canteen", "The canteen serves lunch from 11:45 to 14:00 on weekdays.", "everyone"),
    ("travel.md", "Travel policy", "Employees book second-class train tickets for trips under four hours.", "everyone"),
]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, vllm_base_url: str) -> Iterator[Served]:
    with steward_serve(tmp_path_factory.mktemp("langchain"), vllm_base_url, DOCUMENTS) as stack:
        yield stack


class TestChatStewardIntegration(ChatModelIntegrationTests):
    @pytest.fixture(autouse=True)
    def _point_at(self, served: Served) -> None:
        self.url = served.url

    @property
    def chat_model_class(self) -> type[ChatSteward]:
        return ChatSteward

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {"base_url": self.url, "api_key": ADMIN_KEY, "timeout": 300}

    @property
    def has_tool_calling(self) -> bool:
        return False  # bind_tools raises NotImplementedError: answers come from Steward's own retrieval

    @property
    def has_structured_output(self) -> bool:
        return False  # no schema-shaped output: the answer is prose with citation markers

    @property
    def supports_json_mode(self) -> bool:
        return False

    @property
    def supports_model_override(self) -> bool:
        return False  # the server chooses the model; `model` only labels traces

    @property
    def returns_usage_metadata(self) -> bool:
        return True  # ChatAnswer.usage: vLLM's counts, or 0 when no model ran ("I don't know", a refusal)

    @pytest.mark.xfail(
        reason="Steward refuses stop sequences (ValueError): the server writes the answer and checks every "
        "sentence against the sources, and an answer cut at a client's stop string would break that contract",
        raises=ValueError,
        strict=True,
    )
    def test_stop_sequence(self, model: BaseChatModel) -> None:
        super().test_stop_sequence(model)


class TestStewardRetrieverIntegration(RetrieversIntegrationTests):
    @pytest.fixture(autouse=True)
    def _point_at(self, served: Served) -> None:
        self.url = served.url

    @property
    def retriever_constructor(self) -> type[StewardRetriever]:
        return StewardRetriever

    @property
    def retriever_constructor_params(self) -> dict[str, Any]:
        return {"base_url": self.url, "api_key": ADMIN_KEY}

    @property
    def retriever_query_example(self) -> str:
        return "When does the parking garage open?"

    @property
    def num_results_arg_name(self) -> str:
        return "top_k"

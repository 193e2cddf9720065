"""The LLM port: a gateway to an OpenAI-compatible server (vLLM), admission control and token budgeting."""

from services.core.llm.admission import AdmissionController, LoadMonitor, Priority
from services.core.llm.budget import CharEstimateCounter, ChatTemplateCounter, FittedPrompt, TokenCounter, fit_prompt
from services.core.llm.gateway import LLMGateway

__all__ = [
    "AdmissionController",
    "CharEstimateCounter",
    "ChatTemplateCounter",
    "FittedPrompt",
    "LLMGateway",
    "LoadMonitor",
    "Priority",
    "TokenCounter",
    "fit_prompt",
]

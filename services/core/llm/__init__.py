"""The model side of chat: the vLLM client (gateway), load-aware admission, token budgets and the prompt."""

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

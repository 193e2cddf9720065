"""The policy set in force, replaced as a whole when an admin reloads the policy folder."""

from __future__ import annotations

from pathlib import Path

from services.core.policy.engine import PolicyEngine
from services.core.policy.model import PolicySet
from services.core.policy.screening import InjectionScreen


class ReloadablePolicies:
    """Holds the engine for the rules in force. A reload swaps it in one assignment, so a request that reads
    `engine` once sees either the old rules or the new, never a mix."""

    def __init__(self, directory: Path, screen: InjectionScreen | None = None) -> None:
        self.directory = directory
        self._screen = screen
        self.engine = PolicyEngine(PolicySet.from_path(directory), screen)

    def reload(self) -> PolicySet:
        """Load the folder again; a bad file raises (naming file, line and reason) and the rules stay."""
        policy_set = PolicySet.from_path(self.directory)
        self.engine = PolicyEngine(policy_set, self._screen)
        return policy_set

"""`steward policy ...`: check a policy set and run its YAML fixtures, without a server."""

from __future__ import annotations

from pathlib import Path

import click

from services.core.errors import ConfigurationError


def _folder(policy_set: str | None) -> Path:
    """A set name under ./policies, or a folder path; default: the configured policies_dir."""
    if policy_set is None:
        from services.core.settings import Settings

        return Settings().policies_dir
    path = Path(policy_set)
    return path if path.is_dir() else Path("policies") / policy_set


@click.group()
def policy() -> None:
    """Policy sets: validate them and run their tests."""


@policy.command("check")
@click.argument("policy_set", required=False)
def check(policy_set: str | None) -> None:
    """Load POLICY_SET (a name under policies/ or a folder); a bad file is named with its line and reason."""
    from services.core.policy import PolicySet

    folder = _folder(policy_set)
    try:
        rules = PolicySet.from_path(folder).rules
    except ConfigurationError as exc:
        raise click.ClickException(exc.message) from exc
    click.echo(f"{folder}: {len(rules)} rules OK")


@policy.command("test")
@click.argument("policy_set", required=False)
def test(policy_set: str | None) -> None:
    """Run POLICY_SET's fixtures (tests/*.yaml: input -> expected decisions); exit 1 if any fails."""
    from services.core.policy.fixtures import run_cases

    folder = _folder(policy_set)
    try:
        results = run_cases(folder)
    except ConfigurationError as exc:
        raise click.ClickException(exc.message) from exc
    if not results:
        raise click.ClickException(f"no policy tests in {folder / 'tests'}")
    for result in results:
        click.echo(f"{'PASS' if result.passed else 'FAIL'}  {result.name}")
        if not result.passed:
            click.echo(f"      expected {result.expected or 'no decision'}, got {result.actual or 'no decision'}")
    failed = sum(not r.passed for r in results)
    click.echo(f"{len(results) - failed} passed, {failed} failed ({folder})")
    if failed:
        raise SystemExit(1)

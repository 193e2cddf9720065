"""`steward policy ...`: check a policy set and run its YAML fixtures, without a server."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from services.cli.context import load_settings
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
    from services.core.embedding.dense import Embedder
    from services.core.policy.fixtures import run_cases
    from services.core.policy.injection_model import InjectionModel
    from services.core.policy.screening import ModelScreen

    folder = _folder(policy_set)
    embedder = Embedder(load_settings().embedding_model, replicas=1)  # the server's injection screen: the model
    try:
        results = run_cases(folder, ModelScreen(InjectionModel.load(), embedder.embed, embedder.embed_query))
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


@policy.command("screen")
@click.argument("text")
@click.option("--stage", type=click.Choice(["question", "document"]), default="question", show_default=True)
@click.option("--set", "policy_set", default=None, help="a policy set name under policies/ or a folder")
def screen(text: str, stage: str, policy_set: str | None) -> None:
    """Every decision POLICY_SET would take for TEXT as a question or a retrieved passage, without answering:
    injection score and reasons, deny-topic matches, PII spans. `-` reads TEXT from standard input."""
    from services.api.policies.screening import screen as screen_text
    from services.core.access.principals import Caller
    from services.core.embedding.dense import Embedder
    from services.core.errors import StewardError
    from services.core.pii import PiiGuard
    from services.core.policy import ReloadablePolicies
    from services.core.policy.injection_model import InjectionModel
    from services.core.policy.screening import InjectionScanner, ModelScreen

    if text == "-":
        text = sys.stdin.read()
    settings = load_settings()
    embedder = Embedder(settings.embedding_model, replicas=1)
    model = InjectionModel.load()
    try:
        policies = ReloadablePolicies(_folder(policy_set), ModelScreen(model, embedder.embed, embedder.embed_query))
        found = screen_text(
            text=text,
            stage="document" if stage == "document" else "question",
            caller=Caller(id="cli", name="cli", role="admin", groups=()),
            policies=policies,
            pii=PiiGuard(settings),
            scanner=InjectionScanner(model, embedder.embed) if settings.injection_scan_at_ingestion else None,
        )
    except StewardError as exc:  # a bad policy file (ConfigurationError) or bad input
        raise click.ClickException(exc.message) from exc
    verdict = "at or above" if found.injection_score >= found.injection_threshold else "below"
    click.echo(
        f"injection: {found.injection_score:.4f} ({verdict} the tuned threshold {found.injection_threshold:.4f})"
    )
    for reason in found.injection_reasons:
        click.echo(f"  - {reason}")
    for decision in found.decisions:
        click.echo(f"{decision.decision:<10} {decision.rule_id}: {decision.reason}")
    if not found.decisions:
        click.echo("no rule fires")
    for span in found.pii:
        click.echo(f"pii        {span.entity} {span.start}-{span.end} ({span.score:.2f}): {span.text!r}")

"""POST /v1/admin/policies/reload: put edited policy files in force without a restart (admin)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

from services.api.deps import CurrentPrincipal, RuntimeDep
from services.core import audit
from services.core.db.session import session_scope
from services.core.errors import ConfigurationError, InvalidInput

router = APIRouter(prefix="/v1/admin/policies", tags=["admin"])


class ReloadOut(BaseModel):
    rules: int
    rule_ids: list[str]


@router.post("/reload", response_model=ReloadOut)
async def reload_policies(runtime: RuntimeDep, principal: CurrentPrincipal) -> ReloadOut:
    """Load the policy folder again. A bad file answers 422 naming file, line and reason; the old rules stay."""
    principal.require_role("admin")
    try:
        policy_set = await run_in_threadpool(runtime.reload_policies)
    except ConfigurationError as exc:
        raise InvalidInput(f"policies not reloaded, the rules in force are unchanged: {exc.message}") from exc
    ids = [rule.id for rule in policy_set.rules]
    with session_scope(runtime.sessions) as session:
        audit.admin_action(
            session,
            principal.id,
            "policy.reload",
            f"reloaded {len(ids)} rules from {runtime.settings.policies_dir}",
            details={"rule_ids": ids},
        )
    return ReloadOut(rules=len(ids), rule_ids=ids)

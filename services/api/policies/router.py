"""POST /v1/admin/policies/reload: put edited policy files in force without a restart (admin)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

from services.api.deps import CurrentCaller, PoliciesDep, QuotasDep, SessionDep
from services.api.policies import service

router = APIRouter(prefix="/v1/admin/policies", tags=["admin"])


class ReloadOut(BaseModel):
    rules: int
    rule_ids: list[str]


@router.post("/reload", response_model=ReloadOut)
async def reload_policies(
    session: SessionDep, policies: PoliciesDep, quotas: QuotasDep, principal: CurrentCaller
) -> ReloadOut:
    """Load the policy folder again. A bad file answers 422 naming file, line and reason; the old rules stay."""
    policy_set = await run_in_threadpool(
        lambda: service.reload(session=session, policies=policies, quotas=quotas, principal=principal)
    )
    ids = [rule.id for rule in policy_set.rules]
    return ReloadOut(rules=len(ids), rule_ids=ids)

"""Admin policy routes: reload edited policy files without a restart; screen a text against the rules in force."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from services.api.deps import AdminCaller, InjectionScannerDep, PiiDep, PoliciesDep, QuotasDep, SessionDep
from services.api.policies import screening, service

router = APIRouter(prefix="/v1/admin/policies", tags=["admin"])


class ReloadOut(BaseModel):
    rules: int
    rule_ids: list[str]


@router.post("/reload", response_model=ReloadOut)
async def reload_policies(
    session: SessionDep, policies: PoliciesDep, quotas: QuotasDep, principal: AdminCaller
) -> ReloadOut:
    """Load the policy folder again. A bad file answers 422 naming file, line and reason; the old rules stay."""
    policy_set = await run_in_threadpool(
        lambda: service.reload(session=session, policies=policies, quotas=quotas, principal=principal)
    )
    ids = [rule.id for rule in policy_set.rules]
    return ReloadOut(rules=len(ids), rule_ids=ids)


class ScreenIn(BaseModel):
    text: str = Field(min_length=1, max_length=screening.MAX_TEXT, description="a question or one passage")
    stage: screening.Stage = Field(
        default="question", description="question: the input rules; document: the rules for a retrieved chunk"
    )


class DecisionOut(BaseModel):
    rule_id: str
    stage: str
    decision: str
    reason: str
    details: dict[str, object]


class PiiSpanOut(BaseModel):
    entity: str
    start: int
    end: int
    score: float
    text: str


class ScreenOut(BaseModel):
    stage: screening.Stage
    injection_score: float = Field(description="the learned detector's score, on the scale rules name")
    injection_threshold: float = Field(description="its tuned cut-off for this stage (what `threshold: tuned` means)")
    injection_reasons: list[str]
    decisions: list[DecisionOut] = Field(description="every decision the rules in force would take, in order")
    pii: list[PiiSpanOut] = Field(description="personal data the detector finds, whatever the PII settings")


@router.post("/screen", response_model=ScreenOut)
async def screen_text(
    body: ScreenIn, policies: PoliciesDep, pii: PiiDep, scanner: InjectionScannerDep, principal: AdminCaller
) -> ScreenOut:
    """What the policy set would decide for a question or a passage (injection score and reasons, deny-topic
    matches, PII spans), without answering and without writing anything."""
    found = await run_in_threadpool(
        lambda: screening.screen(
            text=body.text, stage=body.stage, caller=principal, policies=policies, pii=pii, scanner=scanner
        )
    )
    return ScreenOut(
        stage=found.stage,
        injection_score=found.injection_score,
        injection_threshold=found.injection_threshold,
        injection_reasons=found.injection_reasons,
        decisions=[
            DecisionOut(rule_id=d.rule_id, stage=d.stage, decision=d.decision, reason=d.reason, details=d.details)
            for d in found.decisions
        ],
        pii=[PiiSpanOut(entity=p.entity, start=p.start, end=p.end, score=p.score, text=p.text) for p in found.pii],
    )

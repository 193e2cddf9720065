// Oversight: the audit log, unanswered questions, feedback and the ingestion queue.

import { pageHeader } from "../components/page";
import { activeSection, subNav, type Section } from "../components/subnav";
import type { ScreenContext } from "../screen";
import { auditSection } from "./oversight/audit";
import { feedbackSection } from "./oversight/feedback";
import { queueSection } from "./oversight/queue";
import { unansweredSection } from "./oversight/unanswered";

const SECTIONS: readonly Section[] = [
  { id: "audit", label: "Audit log" },
  { id: "unanswered", label: "Unanswered questions" },
  { id: "feedback", label: "Feedback" },
  { id: "queue", label: "Ingestion queue" },
];

const RENDER: Record<string, (ctx: ScreenContext) => HTMLElement> = {
  audit: auditSection,
  unanswered: unansweredSection,
  feedback: feedbackSection,
  queue: queueSection,
};

export function mountOversight(root: HTMLElement, ctx: ScreenContext): void {
  const active = activeSection(SECTIONS, ctx.sub);
  root.append(
    pageHeader("Oversight", "What Steward did and why, what it could not answer, and what people thought of its answers."),
    subNav("Oversight sections", "oversight", SECTIONS, active.id),
    RENDER[active.id](ctx),
  );
}

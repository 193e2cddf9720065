// Access: groups and clearances, API keys, and the sites that embed the chat widget.

import { pageHeader } from "../components/page";
import { activeSection, subNav, type Section } from "../components/subnav";
import type { ScreenContext } from "../screen";
import { groupsSection } from "./access/groups";
import { keysSection } from "./access/keys";
import { sitesSection } from "./access/sites";

const SECTIONS: readonly Section[] = [
  { id: "groups", label: "Groups" },
  { id: "keys", label: "API keys" },
  { id: "sites", label: "Sites" },
];

const RENDER: Record<string, (ctx: ScreenContext) => HTMLElement> = {
  groups: groupsSection,
  keys: keysSection,
  sites: sitesSection,
};

export function mountAccess(root: HTMLElement, ctx: ScreenContext): void {
  const active = activeSection(SECTIONS, ctx.sub);
  root.append(
    pageHeader("Access", "Who can read what, and who can call Steward."),
    subNav("Access sections", "access", SECTIONS, active.id),
    RENDER[active.id](ctx),
  );
}

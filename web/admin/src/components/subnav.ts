// A screen's sections as links (#/access/keys): each is a real page state, shareable and reachable by keyboard.

import { h } from "../dom";
import { href, type ScreenName } from "../router";

export interface Section {
  id: string;
  label: string;
}

export function subNav(label: string, screen: ScreenName, sections: readonly Section[], active: string): HTMLElement {
  return h(
    "nav",
    { class: "subnav", "aria-label": label },
    h(
      "ul",
      {},
      sections.map((s) =>
        h(
          "li",
          {},
          h(
            "a",
            { href: href(screen, s.id), "data-testid": `tab-${s.id}`, "aria-current": s.id === active ? "page" : null },
            s.label,
          ),
        ),
      ),
    ),
  );
}

/** The section named by the route, or the first. */
export function activeSection(sections: readonly Section[], sub: string | null): Section {
  return sections.find((s) => s.id === sub) ?? sections[0];
}

// Hash routes: #/documents (default), #/access/keys, #/oversight/audit, #/usage.

export type ScreenName = "documents" | "access" | "oversight" | "usage";

export interface Route {
  screen: ScreenName;
  sub: string | null;
}

export const SCREENS: readonly { name: ScreenName; label: string }[] = [
  { name: "documents", label: "Documents" },
  { name: "access", label: "Access" },
  { name: "oversight", label: "Oversight" },
  { name: "usage", label: "Usage" },
];

export function parseRoute(hash: string): Route | null {
  const parts = hash.replace(/^#\/?/, "").split("/").filter(Boolean);
  if (!parts.length) return { screen: "documents", sub: null };
  const screen = SCREENS.find((s) => s.name === parts[0]);
  return screen ? { screen: screen.name, sub: parts[1] ?? null } : null;
}

export function href(screen: ScreenName, sub?: string): string {
  return sub ? `#/${screen}/${sub}` : `#/${screen}`;
}

// Sites that embed the chat widget: their allowed origins, groups and limits, the secret (shown once) and the
// embed code.

import { api, seg } from "../../api";
import { errorBox } from "../../components/alert";
import { confirmAction } from "../../components/confirm";
import { openDialog } from "../../components/dialog";
import { button, field, input } from "../../components/fields";
import { formDialog, InvalidField, optionalPositiveInt } from "../../components/formdialog";
import { chips, section } from "../../components/page";
import { copyBlock, showSecret } from "../../components/secret";
import { tableView } from "../../components/table";
import { toast } from "../../components/toast";
import { h, splitList } from "../../dom";
import { formatInt, timeEl } from "../../format";
import type { ScreenContext } from "../../screen";
import type { Site, SiteFields, SiteList, SiteWithSecret } from "../../types";

export function embedSnippet(site: Pick<Site, "id">): string {
  return `<script src="${location.origin}/widget/steward.js" data-site="${site.id}" data-token-url="/steward-token" defer></script>`;
}

const SECRET_NOTE =
  "Keep the secret on your web server, which answers the widget's data-token-url; never put it in a page.";

function limits(site: Site): HTMLElement {
  const parts: string[] = [];
  if (site.requests_per_minute !== null) parts.push(`${formatInt(site.requests_per_minute)} requests/min`);
  if (site.tokens_per_day !== null) parts.push(`${formatInt(site.tokens_per_day)} tokens/day`);
  return parts.length ? h("span", {}, parts.join(" · ")) : h("span", { class: "muted" }, "Defaults");
}

export function sitesSection(ctx: ScreenContext): HTMLElement {
  const error = errorBox("sites-error");
  const table = tableView<Site>({
    caption: "Sites",
    testid: "sites-table",
    empty: "No sites yet: add one to embed the chat widget.",
    key: (s) => s.id,
    rowAttrs: (s) => ({ "data-testid": "site-row", "data-id": s.id }),
    columns: [
      {
        header: "Name",
        cell: (s) =>
          h(
            "div",
            {},
            h("span", {}, s.name),
            h("code", { class: "muted small block" }, s.id),
            s.algorithm && s.algorithm !== "HS256" ? h("span", { class: "muted small block" }, `Signed with the site's ${s.algorithm} key`) : null,
          ),
      },
      { header: "Origins", cell: (s) => h("ul", { class: "plain-list" }, s.origins.map((o) => h("li", {}, o))) },
      { header: "Groups", cell: (s) => chips(s.groups) },
      { header: "Limits", cell: limits },
      { header: "Created", cell: (s) => timeEl(s.created_at) },
      { header: "Secret rotated", cell: (s) => (s.secret_rotated_at ? timeEl(s.secret_rotated_at) : h("span", { class: "muted" }, "Never")) },
      { header: "Actions", hiddenHeader: true, cell: (s) => actions(s) },
    ],
  });

  // Only the latest load may draw: a slow earlier answer must not overwrite a newer one (after a change).
  let seq = 0;
  async function load(): Promise<void> {
    const mine = ++seq;
    try {
      const data = await ctx.track(api.get<SiteList>("/v1/admin/sites", undefined, ctx.signal));
      if (mine !== seq) return;
      error.clear();
      table.setRows(data.sites);
    } catch (err) {
      error.show(err);
    }
  }

  function actions(site: Site): HTMLElement {
    const embed = button("Embed code", { "data-testid": "site-embed", "data-action": "embed", "aria-label": `Embed code for ${site.name}` }, "link");
    const edit = button("Edit", { "data-testid": "site-edit", "data-action": "edit", "aria-label": `Edit site ${site.name}` }, "link");
    const hmac = !site.algorithm || site.algorithm === "HS256";
    const rotate = button("Rotate secret", { "data-testid": "site-rotate", "data-action": "rotate", "aria-label": `Rotate secret of ${site.name}` }, "link");
    const remove = button("Delete", { "data-testid": "site-delete", "data-action": "delete", "aria-label": `Delete site ${site.name}` }, "link");
    remove.classList.add("danger-link");
    embed.addEventListener("click", () => showEmbed(site));
    edit.addEventListener("click", () => siteForm(site, load));
    rotate.addEventListener("click", () =>
      void confirmAction({
        title: "Rotate site secret?",
        message: [
          h("p", {}, "Issue a new secret for ", h("strong", {}, site.name), "."),
          h("p", {}, "The current secret stops working at once: the widget fails on this site until its server has the new one."),
        ],
        confirmLabel: "Rotate secret",
        busyLabel: "Rotating…",
        action: async () => {
          const rotated = await api.post<SiteWithSecret>(`/v1/admin/sites/${seg(site.id)}/rotate`);
          void load();
          return () => void secretDialog(rotated, "New secret for the site");
        },
      }),
    );
    remove.addEventListener("click", () =>
      void confirmAction({
        title: "Delete site?",
        message: [
          h("p", {}, "Delete ", h("strong", {}, site.name), "?"),
          h("p", {}, "The chat widget stops working on its origins at once. This cannot be undone."),
        ],
        confirmLabel: "Delete site",
        busyLabel: "Deleting…",
        danger: true,
        action: async () => {
          await api.del(`/v1/admin/sites/${seg(site.id)}`);
          toast(`Site ${site.name} deleted.`);
          void load();
        },
      }),
    );
    return h("div", { class: "row-actions" }, embed, edit, hmac ? rotate : null, remove);
  }

  const create = button("Add site", { "data-testid": "site-new" }, "primary");
  create.addEventListener("click", () => siteForm(null, load));
  void load();
  return section(
    "Sites",
    { testid: "sites-section", actions: create },
    h("p", { class: "lead" }, "Websites that embed the chat widget: the origins it may run on, whose documents it answers from, and its limits."),
    error.el,
    table.el,
  );
}

function secretDialog(site: SiteWithSecret, title: string): Promise<void> {
  if (!site.secret) {
    // RS256/ES256 sites sign with their own private key: there is no secret to show, only the embed code.
    showEmbed(site);
    return Promise.resolve();
  }
  return showSecret({
    title,
    intro: `Site ${site.name} (${site.id}). ${SECRET_NOTE}`,
    secretLabel: "Site secret",
    secret: site.secret,
    snippet: embedSnippet(site),
  });
}

function showEmbed(site: Site): void {
  const done = button("Close", {}, "primary");
  const dialog = openDialog(
    { title: `Embed code for ${site.name}`, testid: "embed-dialog", wide: true, initialFocus: () => done },
    h("p", {}, "Paste this into the pages of ", site.origins.join(", ") || "the site", ", before </body>."),
    copyBlock("Embed code", embedSnippet(site), "snippet", true),
    h("p", { class: "hint" }, SECRET_NOTE),
  );
  dialog.actions.append(done);
  done.addEventListener("click", () => dialog.close());
}

/** Normalise "https://example.com/" to "https://example.com"; reject what is not an origin. */
function parseOrigins(control: HTMLTextAreaElement): string[] {
  const origins = splitList(control.value, /[\n,]/).map((o) => o.replace(/\/+$/, ""));
  if (!origins.length) throw new InvalidField(control, "Enter at least one origin, such as https://www.example.com.");
  for (const origin of origins) {
    if (!/^https?:\/\/[^/\s?#]+$/i.test(origin)) {
      throw new InvalidField(control, `“${origin}” is not an origin: scheme and host only, such as https://www.example.com.`);
    }
  }
  return origins;
}

/** Add (site null) or edit a site. */
function siteForm(site: Site | null, reload: () => Promise<void>): void {
  const name = input({ name: "name", required: true, maxlength: 200, value: site?.name ?? "", "data-testid": "site-name" });
  const origins = h("textarea", { name: "origins", rows: 3, "data-testid": "site-origins" });
  origins.value = site?.origins.join("\n") ?? "";
  const groups = input({ name: "groups", value: site?.groups.join(", ") ?? "everyone", "data-testid": "site-groups" });
  const rpm = input({ type: "number", name: "requests_per_minute", min: 0, inputmode: "numeric", value: site?.requests_per_minute ?? "", "data-testid": "site-rpm" });
  const tpd = input({ type: "number", name: "tokens_per_day", min: 0, inputmode: "numeric", value: site?.tokens_per_day ?? "", "data-testid": "site-tpd" });
  formDialog(
    {
      title: site ? `Edit site ${site.name}` : "Add a site",
      testid: "site-dialog",
      submitLabel: site ? "Save" : "Add site",
      busyLabel: site ? "Saving…" : "Adding…",
      wide: true,
      async submit() {
        if (!name.value.trim()) throw new InvalidField(name, "Enter a name for the site.");
        const fields: SiteFields = {
          name: name.value.trim(),
          origins: parseOrigins(origins),
          groups: splitList(groups.value),
          requests_per_minute: optionalPositiveInt(rpm, "Requests per minute", 1_000_000, 0),
          tokens_per_day: optionalPositiveInt(tpd, "Tokens per day", 10_000_000_000, 0),
        };
        if (!fields.groups.length) throw new InvalidField(groups, "Name at least one group whose documents the widget answers from.");
        if (site) {
          await api.patch<Site>(`/v1/admin/sites/${seg(site.id)}`, fields);
          toast(`Site ${fields.name} saved.`);
          void reload();
          return;
        }
        const body: Partial<SiteFields> = { ...fields };
        if (body.requests_per_minute === null) delete body.requests_per_minute;
        if (body.tokens_per_day === null) delete body.tokens_per_day;
        const created = await api.post<SiteWithSecret>("/v1/admin/sites", body);
        void reload();
        return () => void secretDialog(created, "Site added");
      },
    },
    field("Name", name),
    field("Allowed origins", origins, "One per line: scheme and host, e.g. https://www.example.com."),
    field("Groups", groups, "Comma-separated: visitors read what these groups may read."),
    field("Requests per minute", rpm, "For the whole site. Empty: no site limit."),
    field("Tokens per day", tpd, "For the whole site. Empty: no site limit."),
  );
}

// API keys: create (the secret shown once), list with last use, revoke, rotate.

import { api, seg } from "../../api";
import { errorBox } from "../../components/alert";
import { badge } from "../../components/badge";
import { confirmAction } from "../../components/confirm";
import { button, field, input, plain, select } from "../../components/fields";
import { formDialog, InvalidField, optionalPositiveInt } from "../../components/formdialog";
import { chips, section } from "../../components/page";
import { pager } from "../../components/pager";
import { showSecret } from "../../components/secret";
import { tableView } from "../../components/table";
import { toast } from "../../components/toast";
import { h, splitList, uid } from "../../dom";
import { timeEl } from "../../format";
import type { ScreenContext } from "../../screen";
import { ROLES, SCOPES, type ApiKey, type IssuedKey, type KeyCreate, type KeyList, type Role, type Scope } from "../../types";

const PAGE_SIZE = 50;

function keyStatus(key: ApiKey): "active" | "revoked" | "expired" {
  if (key.revoked_at) return "revoked";
  if (key.expires_at && Date.parse(key.expires_at) <= Date.now()) return "expired";
  return "active";
}

export function keysSection(ctx: ScreenContext): HTMLElement {
  const error = errorBox("keys-error");
  let offset = 0;
  const showRevoked = h("input", { type: "checkbox", checked: true, "data-testid": "keys-show-revoked", id: uid("revoked") });
  const table = tableView<ApiKey>({
    caption: "API keys",
    testid: "keys-table",
    empty: "No keys.",
    key: (k) => k.prefix,
    rowAttrs: (k) => ({ "data-testid": "key-row", "data-prefix": k.prefix, "data-status": keyStatus(k) }),
    columns: [
      { header: "Key", cell: (k) => h("code", {}, k.prefix) },
      {
        header: "Owner",
        cell: (k) => h("div", {}, h("span", {}, k.principal_name), h("span", { class: "muted small block" }, k.role)),
      },
      { header: "Label", cell: (k) => k.label || h("span", { class: "muted" }, "—") },
      { header: "Scopes", cell: (k) => chips(k.scopes) },
      { header: "Status", cell: (k) => badge(keyStatus(k)) },
      { header: "Created", cell: (k) => timeEl(k.created_at) },
      { header: "Expires", cell: (k) => (k.expires_at ? timeEl(k.expires_at) : h("span", { class: "muted" }, "Never")) },
      { header: "Last used", cell: (k) => (k.last_used_at ? timeEl(k.last_used_at) : h("span", { class: "muted" }, "Never")) },
      { header: "Actions", hiddenHeader: true, cell: (k) => actions(k) },
    ],
  });
  const pages = pager("API keys", PAGE_SIZE, (next) => {
    offset = next;
    void load();
  });
  showRevoked.addEventListener("change", () => {
    offset = 0;
    void load();
  });

  // Only the latest load may draw: a slow earlier answer must not overwrite a newer one (after a change).
  let seq = 0;
  async function load(): Promise<void> {
    const mine = ++seq;
    try {
      const data = await ctx.track(
        api.get<KeyList>("/v1/admin/keys", { include_revoked: showRevoked.checked, limit: PAGE_SIZE, offset }, ctx.signal),
      );
      if (mine !== seq) return;
      if (!data.keys.length && offset > 0 && data.total > 0) {
        offset = Math.floor((data.total - 1) / PAGE_SIZE) * PAGE_SIZE;
        return load();
      }
      error.clear();
      table.setRows(data.keys);
      pages.update(offset, data.keys.length, data.total);
    } catch (err) {
      error.show(err);
    }
  }

  function actions(key: ApiKey): HTMLElement {
    const wrap = h("div", { class: "row-actions" });
    if (key.revoked_at) return wrap;
    const own = key.principal_id === ctx.principal.id;
    const rotate = button("Rotate", { "data-testid": "key-rotate", "data-action": "rotate", "aria-label": `Rotate key ${key.prefix}` }, "link");
    const revoke = button("Revoke", { "data-testid": "key-revoke", "data-action": "revoke", "aria-label": `Revoke key ${key.prefix}` }, "link");
    revoke.classList.add("danger-link");
    rotate.addEventListener("click", () =>
      void confirmAction({
        title: "Rotate key?",
        message: [
          h("p", {}, "Issue a new secret for ", h("code", {}, key.prefix), ` (${key.principal_name}), with the same scopes and label.`),
          h("p", {}, "The current secret stops working at once: update whatever uses it."),
          own ? h("p", { class: "warning" }, "This key belongs to you: if you signed in with it, your session ends.") : null,
        ],
        confirmLabel: "Rotate key",
        busyLabel: "Rotating…",
        action: async () => {
          const issued = await api.post<IssuedKey>(`/v1/admin/keys/${seg(key.prefix)}/rotate`);
          void load();
          return () =>
            void showSecret({
              title: "New secret for the key",
              intro: `The key of ${issued.principal_name} now has this secret (prefix ${issued.prefix}); the old one no longer works.`,
              secretLabel: "API key",
              secret: issued.key,
              why: "Steward keeps only a hash of it",
            });
        },
      }),
    );
    revoke.addEventListener("click", () =>
      void confirmAction({
        title: "Revoke key?",
        message: [
          h("p", {}, "Revoke ", h("code", {}, key.prefix), ` of ${key.principal_name}${key.label ? ` (${key.label})` : ""}?`),
          h("p", {}, "Every request with it is refused from now on. This cannot be undone."),
          own ? h("p", { class: "warning" }, "This key belongs to you: if you signed in with it, your session ends.") : null,
        ],
        confirmLabel: "Revoke key",
        busyLabel: "Revoking…",
        danger: true,
        action: async () => {
          await api.del(`/v1/admin/keys/${seg(key.prefix)}`);
          toast(`Key ${key.prefix} revoked.`);
          void load();
        },
      }),
    );
    wrap.append(rotate, revoke);
    return wrap;
  }

  const create = button("Create key", { "data-testid": "key-new" }, "primary");
  create.addEventListener("click", () => createKey(load));
  void load();
  return section(
    "API keys",
    { testid: "keys-section", actions: create },
    h("p", { class: "lead" }, "Keys for people and applications. Steward keeps only a hash: a secret is shown once, when it is issued."),
    h("div", { class: "toolbar" }, h("div", { class: "check" }, showRevoked, h("label", { for: showRevoked.id }, "Show revoked keys"))),
    error.el,
    table.el,
    pages.el,
  );
}

function createKey(reload: () => Promise<void>): void {
  const name = input({ name: "name", required: true, maxlength: 200, "data-testid": "key-name" });
  const role = select(plain(ROLES), "user", { name: "role", "data-testid": "key-role" });
  const groups = input({ name: "groups", "data-testid": "key-groups" });
  const expires = input({ type: "number", name: "expires_in_days", min: 1, max: 3650, inputmode: "numeric", "data-testid": "key-expires" });
  const label = input({ name: "label", maxlength: 200, "data-testid": "key-label" });
  const scopeBoxes = SCOPES.map((scope) => {
    const box = h("input", { type: "checkbox", name: "scopes", value: scope, id: uid("scope"), "data-testid": `key-scope-${scope}` });
    return { scope, box, el: h("div", { class: "check" }, box, h("label", { for: box.id }, scope)) };
  });
  const scopes = h(
    "fieldset",
    { class: "field checks" },
    h("legend", {}, "Scopes"),
    h("div", { class: "check-row" }, scopeBoxes.map((s) => s.el)),
    h("p", { class: "hint" }, "Leave all unticked for the role's defaults (user and app: search and chat)."),
  );
  formDialog(
    {
      title: "Create an API key",
      testid: "key-dialog",
      submitLabel: "Create key",
      busyLabel: "Creating…",
      async submit() {
        const principal = name.value.trim();
        if (!principal) throw new InvalidField(name, "Enter the name of the person or application the key is for.");
        const body: KeyCreate = { name: principal, role: role.value as Role, groups: splitList(groups.value) };
        const chosen = scopeBoxes.filter((s) => s.box.checked).map((s) => s.scope as Scope);
        if (chosen.length) body.scopes = chosen;
        const days = optionalPositiveInt(expires, "Expires in days", 3650);
        if (days !== null) body.expires_in_days = days;
        if (label.value.trim()) body.label = label.value.trim();
        const issued = await api.post<IssuedKey>("/v1/admin/keys", body);
        void reload();
        return () =>
          void showSecret({
            title: "Your new API key",
            intro: `A ${issued.role} key for ${issued.principal_name}${issued.label ? ` (${issued.label})` : ""}.`,
            secretLabel: "API key",
            secret: issued.key,
            why: "Steward keeps only a hash of it",
          });
      },
    },
    field("Name", name, "The person or application; created if new, and its role and groups set to these."),
    field("Role", role),
    field("Groups", groups, "Comma-separated."),
    scopes,
    field("Expires in days", expires, "Empty: never expires."),
    field("Label", label, "What the key is for, e.g. “CRM integration”."),
  );
}

// Groups: their clearance and description, and who is in them.

import { api, seg } from "../../api";
import { errorBox } from "../../components/alert";
import { openDialog } from "../../components/dialog";
import { button, field, input, plain, select } from "../../components/fields";
import { formDialog, InvalidField } from "../../components/formdialog";
import { section } from "../../components/page";
import { tableView } from "../../components/table";
import { toast } from "../../components/toast";
import { h } from "../../dom";
import { formatInt, timeEl } from "../../format";
import type { ScreenContext } from "../../screen";
import { debounce } from "../../timing";
import { CLASSIFICATIONS, type Group, type GroupList, type PrincipalList, type PrincipalRow } from "../../types";

const GROUP_NAME = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$/;

export function groupsSection(ctx: ScreenContext): HTMLElement {
  const error = errorBox("groups-error");
  const table = tableView<Group>({
    caption: "Groups",
    testid: "groups-table",
    empty: "No groups yet.",
    key: (g) => g.name,
    rowAttrs: (g) => ({ "data-testid": "group-row", "data-name": g.name }),
    columns: [
      { header: "Name", cell: (g) => g.name },
      { header: "Clearance", cell: (g) => h("span", { class: `level level-${g.clearance}` }, g.clearance) },
      { header: "Description", cell: (g) => g.description || h("span", { class: "muted" }, "—") },
      { header: "Members", cell: (g) => formatInt(g.members.length), className: "num" },
      { header: "Created", cell: (g) => timeEl(g.created_at) },
      { header: "Actions", hiddenHeader: true, cell: (g) => actions(g) },
    ],
  });

  // Only the latest load may draw: a slow earlier answer must not overwrite a newer one (after a change).
  let seq = 0;
  async function load(): Promise<void> {
    const mine = ++seq;
    try {
      const data = await ctx.track(api.get<GroupList>("/v1/admin/groups", undefined, ctx.signal));
      if (mine !== seq) return;
      error.clear();
      table.setRows(data.groups);
    } catch (err) {
      error.show(err);
    }
  }

  function actions(group: Group): HTMLElement {
    const edit = button("Edit", { "data-testid": "group-edit", "data-action": "edit", "aria-label": `Edit group ${group.name}` }, "link");
    const members = button("Members", { "data-testid": "group-members", "data-action": "members", "aria-label": `Members of ${group.name}` }, "link");
    edit.addEventListener("click", () => editGroup(group, load));
    members.addEventListener("click", () => manageMembers(group, load));
    return h("div", { class: "row-actions" }, edit, members);
  }

  const create = button("New group", { "data-testid": "group-new" }, "primary");
  create.addEventListener("click", () => createGroup(load));
  void load();
  return section("Groups", { testid: "groups-section", actions: create }, h("p", { class: "lead" }, "A document is readable by members of its groups whose clearance reaches its classification."), error.el, table.el);
}

function createGroup(reload: () => Promise<void>): void {
  const name = input({ name: "name", required: true, maxlength: 100, "data-testid": "group-name" });
  const clearance = select(plain(CLASSIFICATIONS), "internal", { name: "clearance", "data-testid": "group-clearance" });
  const description = h("textarea", { name: "description", rows: 3, maxlength: 2000, "data-testid": "group-description" });
  formDialog(
    {
      title: "New group",
      testid: "group-dialog",
      submitLabel: "Create group",
      busyLabel: "Creating…",
      async submit() {
        const value = name.value.trim();
        if (!GROUP_NAME.test(value)) {
          throw new InvalidField(name, "A group name is letters, digits and . _ - : (up to 100), starting with a letter or digit.");
        }
        await api.post<Group>("/v1/admin/groups", { name: value, clearance: clearance.value, description: description.value.trim() });
        toast(`Group ${value} created.`);
        await reload();
      },
    },
    field("Name", name, "Letters, digits and . _ - :"),
    field("Clearance", clearance, "The highest classification its members may read."),
    field("Description", description),
  );
}

function editGroup(group: Group, reload: () => Promise<void>): void {
  const clearance = select(plain(CLASSIFICATIONS), group.clearance, { name: "clearance", "data-testid": "group-clearance" });
  const description = h("textarea", { name: "description", rows: 3, maxlength: 2000, "data-testid": "group-description" });
  description.value = group.description;
  formDialog(
    {
      title: `Edit group ${group.name}`,
      testid: "group-dialog",
      submitLabel: "Save",
      async submit() {
        const change: { clearance?: string; description?: string } = {};
        if (clearance.value !== group.clearance) change.clearance = clearance.value;
        if (description.value.trim() !== group.description) change.description = description.value.trim();
        if (!Object.keys(change).length) return;
        await api.patch<Group>(`/v1/admin/groups/${seg(group.name)}`, change);
        toast(`Group ${group.name} saved. Members get the change on their next request.`);
        await reload();
      },
    },
    field("Clearance", clearance, "The highest classification its members may read."),
    field("Description", description),
  );
}

/** Members: the current ones (with names), and a search to add more. */
function manageMembers(group: Group, reload: () => Promise<void>): void {
  const members = new Set(group.members);
  const names = new Map<string, PrincipalRow>();
  let changed = false;

  const memberTable = tableView<string>({
    caption: `Members of ${group.name}`,
    testid: "members-table",
    empty: "No members yet.",
    key: (id) => `${id}:${names.get(id)?.name ?? ""}`,
    rowAttrs: (id) => ({ "data-testid": "member-row", "data-id": id }),
    columns: [
      { header: "Name", cell: (id) => names.get(id)?.name ?? h("span", { class: "muted" }, "Unknown") },
      { header: "Role", cell: (id) => names.get(id)?.role ?? "—" },
      { header: "ID", cell: (id) => h("code", {}, id) },
      { header: "Actions", hiddenHeader: true, cell: (id) => removeButton(id) },
    ],
  });
  const found = tableView<PrincipalRow>({
    caption: "People and applications found",
    testid: "principal-results",
    empty: "Nobody found.",
    key: (p) => `${p.id}:${members.has(p.id)}`,
    rowAttrs: (p) => ({ "data-testid": "principal-row", "data-id": p.id }),
    columns: [
      { header: "Name", cell: (p) => p.name },
      { header: "Role", cell: (p) => p.role },
      { header: "Groups", cell: (p) => p.groups.join(", ") || "—" },
      { header: "Actions", hiddenHeader: true, cell: (p) => addButton(p) },
    ],
  });
  const search = input({ type: "search", name: "q", "data-testid": "principal-search" });
  const count = h("p", { class: "muted", role: "status" });
  const done = button("Close", {}, "primary");
  const dialog = openDialog(
    { title: `Members of ${group.name}`, testid: "members-dialog", wide: true, initialFocus: () => search, onClose: () => changed && void reload() },
    h("h3", {}, "Current members"),
    count,
    memberTable.el,
    h("h3", {}, "Add members"),
    field("Find by name", search),
    found.el,
  );
  dialog.actions.append(done);
  done.addEventListener("click", () => dialog.close());

  const renderMembers = () => {
    count.textContent = `${formatInt(members.size)} ${members.size === 1 ? "member" : "members"}`;
    memberTable.setRows([...members].sort((a, b) => (names.get(a)?.name ?? a).localeCompare(names.get(b)?.name ?? b)));
  };
  let results: PrincipalRow[] = [];
  const renderResults = () => found.setRows(results);

  function removeButton(id: string): HTMLElement {
    const label = names.get(id)?.name ?? id;
    const btn = button("Remove", { "data-testid": "member-remove", "data-action": "remove", "aria-label": `Remove ${label} from ${group.name}` }, "link");
    btn.classList.add("danger-link");
    btn.addEventListener("click", async () => {
      dialog.error.clear();
      btn.disabled = true;
      try {
        await api.del(`/v1/admin/groups/${seg(group.name)}/members/${seg(id)}`);
        members.delete(id);
        changed = true;
        renderMembers();
        renderResults();
        toast(`${label} removed from ${group.name}.`);
      } catch (err) {
        dialog.error.show(err);
        btn.disabled = false;
      }
    });
    return btn;
  }

  function addButton(p: PrincipalRow): HTMLElement {
    if (members.has(p.id)) return h("span", { class: "muted" }, "Member");
    const btn = button("Add", { "data-testid": "member-add", "data-action": "add", "aria-label": `Add ${p.name} to ${group.name}` }, "link");
    btn.addEventListener("click", async () => {
      dialog.error.clear();
      btn.disabled = true;
      try {
        await api.put(`/v1/admin/groups/${seg(group.name)}/members/${seg(p.id)}`);
        members.add(p.id);
        names.set(p.id, p);
        changed = true;
        renderMembers();
        renderResults();
        toast(`${p.name} added to ${group.name}.`);
      } catch (err) {
        dialog.error.show(err);
        btn.disabled = false;
      }
    });
    return btn;
  }

  let searchSeq = 0;
  const find = async () => {
    const mine = ++searchSeq;
    try {
      const data = await api.get<PrincipalList>("/v1/admin/principals", { q: search.value.trim(), limit: 20, offset: 0 });
      if (mine !== searchSeq) return;
      results = data.principals;
      for (const p of results) names.set(p.id, p);
      renderResults();
      renderMembers();
    } catch (err) {
      dialog.error.show(err);
    }
  };
  search.addEventListener("input", debounce(() => void find(), 250));

  // Names for the member ids: one page of principals (the most a page holds) is enough for most installations;
  // ids not on it still show, with "Unknown" for a name.
  renderMembers();
  void api
    .get<PrincipalList>("/v1/admin/principals", { limit: 500, offset: 0 })
    .then((data) => {
      for (const p of data.principals) names.set(p.id, p);
      results = data.principals.slice(0, 20);
      renderMembers();
      renderResults();
    })
    .catch((err) => dialog.error.show(err));
}

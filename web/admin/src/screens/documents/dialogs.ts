// The row actions of a document: edit its access and labels, list its versions, delete it.

import { api, seg } from "../../api";
import { confirmAction } from "../../components/confirm";
import { openDialog } from "../../components/dialog";
import { button, field, input, plain, select } from "../../components/fields";
import { tableView } from "../../components/table";
import { h, splitList, uid } from "../../dom";
import { formatBytes, timeEl } from "../../format";
import { CLASSIFICATIONS, type Classification, type Document, type DocumentUpdate, type DocumentVersion } from "../../types";

/** Edit title, groups, classification, tags: PATCH with only what changed. */
export function editDocument(doc: Document, onSaved: (doc: Document) => void): void {
  const formId = uid("edit-form");
  const title = input({ name: "title", value: doc.title, required: true, maxlength: 500, "data-testid": "edit-title" });
  const groups = input({ name: "groups", value: doc.groups.join(", "), "data-testid": "edit-groups" });
  const classification = select(plain(CLASSIFICATIONS), doc.classification, { name: "classification", "data-testid": "edit-classification" });
  const tags = input({ name: "tags", value: doc.tags.join(", "), "data-testid": "edit-tags" });
  const form = h(
    "form",
    { id: formId, class: "form-grid", novalidate: true },
    field("Title", title),
    field("Groups", groups, "Comma-separated. Only members of these groups can find the document."),
    field("Classification", classification, "Readers also need a clearance at least this high."),
    field("Tags", tags, "Comma-separated labels that searches can filter on."),
  );
  const cancel = button("Cancel");
  const save = h("button", { type: "submit", form: formId, class: "btn btn-primary", "data-testid": "edit-save" }, "Save");
  const dialog = openDialog({ title: `Edit “${doc.title}”`, testid: "edit-dialog" }, form);
  dialog.actions.append(cancel, save);
  cancel.addEventListener("click", () => dialog.close());

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    dialog.error.clear();
    const change: DocumentUpdate = {};
    const newTitle = title.value.trim();
    const newGroups = splitList(groups.value);
    const newTags = splitList(tags.value);
    if (!newTitle) return invalid(title, "Enter a title.");
    if (!newGroups.length) return invalid(groups, "Name at least one group that may read the document.");
    if (newTitle !== doc.title) change.title = newTitle;
    if (!sameSet(newGroups, doc.groups)) change.groups = newGroups;
    if (classification.value !== doc.classification) change.classification = classification.value as Classification;
    if (!sameSet(newTags, doc.tags)) change.tags = newTags;
    if (!Object.keys(change).length) {
      dialog.close();
      return;
    }
    save.disabled = true;
    save.textContent = "Saving…";
    try {
      const updated = await api.patch<Document>(`/v1/documents/${seg(doc.id)}`, change);
      dialog.close();
      onSaved(updated);
    } catch (err) {
      dialog.error.show(err);
      save.disabled = false;
      save.textContent = "Save";
    }
  });

  function invalid(control: HTMLInputElement, message: string): void {
    dialog.error.message(message);
    control.setAttribute("aria-invalid", "true");
    control.focus();
  }
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x) => b.includes(x));
}

/** Every uploaded version, newest first. */
export function showVersions(doc: Document): void {
  const status = h("p", { class: "muted", role: "status" }, "Loading versions…");
  const table = tableView<DocumentVersion>({
    caption: `Versions of ${doc.title}`,
    testid: "versions-table",
    empty: "No versions recorded.",
    columns: [
      { header: "Version", cell: (v) => `v${v.version}` },
      { header: "File", cell: (v) => v.filename },
      { header: "Size", cell: (v) => formatBytes(v.size_bytes), className: "num" },
      { header: "SHA-256", cell: (v) => h("code", { class: "hash", title: v.sha256 }, v.sha256.slice(0, 16) + "…") },
      { header: "Uploaded by", cell: (v) => v.uploaded_by ?? "—" },
      { header: "Uploaded", cell: (v) => timeEl(v.uploaded_at) },
    ],
  });
  const done = button("Close", {}, "primary");
  const dialog = openDialog(
    { title: `Versions of “${doc.title}”`, testid: "versions-dialog", wide: true, initialFocus: () => done },
    status,
    table.el,
  );
  dialog.actions.append(done);
  done.addEventListener("click", () => dialog.close());
  table.el.hidden = true;
  api
    .get<DocumentVersion[]>(`/v1/documents/${seg(doc.id)}/versions`)
    .then((versions) => {
      status.textContent = `${versions.length} ${versions.length === 1 ? "version" : "versions"}; the index holds v${doc.indexed_version}.`;
      table.setRows(versions);
      table.el.hidden = false;
    })
    .catch((err) => {
      status.textContent = "";
      dialog.error.show(err);
    });
}

/** Confirm, then DELETE: the document and every chunk of it. */
export function deleteDocument(doc: Document, onDeleted: () => void): void {
  void confirmAction({
    title: "Delete document?",
    message: [
      h("p", {}, "Delete ", h("strong", {}, doc.title), ` (${doc.filename})?`),
      h("p", {}, "It is removed with every chunk from the index, and answers stop citing it. This cannot be undone."),
    ],
    confirmLabel: "Delete document",
    busyLabel: "Deleting…",
    danger: true,
    action: async () => {
      await api.del(`/v1/documents/${seg(doc.id)}`);
      onDeleted();
    },
  });
}

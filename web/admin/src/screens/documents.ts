// Documents: upload (drop zone, per-file progress), the server-paged list with filters, live status while any
// document on the page is being indexed, and the row actions (retry, edit, versions, delete).

import { api, seg } from "../api";
import { errorBox } from "../components/alert";
import { badge } from "../components/badge";
import { button, field, input, plain, select } from "../components/fields";
import { chips, pageHeader, section } from "../components/page";
import { pager } from "../components/pager";
import { tableView } from "../components/table";
import { toast } from "../components/toast";
import { h, splitList } from "../dom";
import { formatInt, timeEl } from "../format";
import type { ScreenContext } from "../screen";
import { debounce, poller } from "../timing";
import { CLASSIFICATIONS, DOCUMENT_STATUSES, type Document, type DocumentList } from "../types";
import { deleteDocument, editDocument, showVersions } from "./documents/dialogs";
import { uploads } from "./documents/uploads";

const PAGE_SIZE = 50;
const POLL_MS = 2000;
const SEARCH_DEBOUNCE_MS = 250;

export function mountDocuments(root: HTMLElement, ctx: ScreenContext): void {
  const list = documentList(ctx);
  root.append(
    pageHeader("Documents", "Upload documents, follow their indexing, and decide who may read them."),
    uploadSection(ctx, list.refreshSoon),
    list.el,
  );
  list.load(true);
}

// Upload

function uploadSection(ctx: ScreenContext, refresh: () => void): HTMLElement {
  const queue = uploads();
  queue.onDocumentChanged = refresh;
  ctx.signal.addEventListener("abort", () => {
    if (queue.onDocumentChanged === refresh) queue.onDocumentChanged = null;
  });

  const error = errorBox("upload-error");
  const groups = input({ name: "groups", value: "everyone", "data-testid": "upload-groups" });
  const classification = select(plain(CLASSIFICATIONS), "internal", { name: "classification", "data-testid": "upload-classification" });
  const tags = input({ name: "tags", "data-testid": "upload-tags" });
  const fileInput = h("input", {
    type: "file",
    multiple: true,
    hidden: true,
    tabindex: -1,
    "aria-label": "Files to upload",
    "data-testid": "file-input",
  });
  const choose = button("Choose files", { "data-testid": "choose-files" }, "primary");
  const dropzone = h(
    "div",
    { class: "dropzone", "data-testid": "dropzone" },
    h("p", { class: "dropzone-title" }, "Drag files here, or"),
    choose,
    h("p", { class: "hint" }, "PDF, Word, HTML, Markdown or plain text. Several files upload together, three at a time."),
    fileInput,
  );

  const addFiles = (files: FileList | null) => {
    error.clear();
    if (!files || !files.length) return;
    const groupList = splitList(groups.value);
    if (!groupList.length) {
      error.message("Name at least one group that may read the documents before uploading.");
      groups.setAttribute("aria-invalid", "true");
      groups.focus();
      return;
    }
    groups.removeAttribute("aria-invalid");
    queue.add(Array.from(files), { groups: groupList, classification: classification.value, tags: splitList(tags.value) });
  };

  choose.addEventListener("click", () => fileInput.click());
  fileInput.addEventListener("change", () => {
    addFiles(fileInput.files);
    fileInput.value = ""; // choosing the same file again uploads it again
  });
  const hasFiles = (event: DragEvent) => Array.from(event.dataTransfer?.types ?? []).includes("Files");
  dropzone.addEventListener("dragenter", (event) => {
    if (!hasFiles(event)) return;
    event.preventDefault();
    dropzone.classList.add("dragging");
  });
  dropzone.addEventListener("dragover", (event) => {
    if (!hasFiles(event)) return;
    event.preventDefault();
    if (event.dataTransfer) event.dataTransfer.dropEffect = "copy";
    dropzone.classList.add("dragging");
  });
  dropzone.addEventListener("dragleave", (event) => {
    if (!(event.relatedTarget instanceof Node && dropzone.contains(event.relatedTarget))) dropzone.classList.remove("dragging");
  });
  dropzone.addEventListener("drop", (event) => {
    event.preventDefault();
    dropzone.classList.remove("dragging");
    addFiles(event.dataTransfer?.files ?? null);
  });
  // A file dropped next to the zone must not make the browser leave the console to open it.
  const outside = (event: DragEvent) => {
    if (!(event.target instanceof Node && dropzone.contains(event.target))) event.preventDefault();
  };
  window.addEventListener("dragover", outside, { signal: ctx.signal });
  window.addEventListener("drop", outside, { signal: ctx.signal });

  const clearFinished = button("Clear finished", { "data-testid": "uploads-clear" }, "secondary");
  clearFinished.addEventListener("click", () => queue.clearFinished());

  return section(
    "Upload documents",
    { testid: "upload-section" },
    h(
      "div",
      { class: "upload-fields" },
      field("Groups", groups, "Comma-separated: who may read them."),
      field("Classification", classification),
      field("Tags", tags, "Comma-separated, optional."),
    ),
    error.el,
    dropzone,
    queue.list,
    h("div", { class: "uploads-actions" }, clearFinished),
  );
}

// The list

interface Filters {
  q: string;
  status: string;
  classification: string;
  group: string;
  tag: string;
  offset: number;
}

function documentList(ctx: ScreenContext) {
  const filters: Filters = { q: "", status: "", classification: "", group: "", tag: "", offset: 0 };
  const error = errorBox("documents-error");
  let seq = 0;
  let loading = false;
  let current: Document[] = [];

  const q = input({ type: "search", name: "q", maxlength: 200, "data-testid": "doc-search" });
  const status = select([["", "All statuses"], ...DOCUMENT_STATUSES.map((s): [string, string] => [s, s[0].toUpperCase() + s.slice(1)])], "", {
    name: "status",
    "data-testid": "doc-status-filter",
  });
  const classification = select([["", "All levels"], ...plain(CLASSIFICATIONS)], "", { name: "classification", "data-testid": "doc-classification-filter" });
  const group = input({ name: "group", maxlength: 100, "data-testid": "doc-group-filter" });
  const tag = input({ name: "tag", maxlength: 100, "data-testid": "doc-tag-filter" });

  const apply = () => {
    filters.q = q.value.trim();
    filters.status = status.value;
    filters.classification = classification.value;
    filters.group = group.value.trim();
    filters.tag = tag.value.trim();
    filters.offset = 0;
    load(true);
  };
  const applySoon = debounce(apply, SEARCH_DEBOUNCE_MS, ctx.signal);
  for (const text of [q, group, tag]) text.addEventListener("input", applySoon);
  for (const choice of [status, classification]) choice.addEventListener("change", apply);

  const filterForm = h(
    "form",
    { class: "filters", role: "search", "aria-label": "Filter documents" },
    field("Search title or file name", q, undefined, "field-wide"),
    field("Status", status),
    field("Classification", classification),
    field("Group", group),
    field("Tag", tag),
  );
  filterForm.addEventListener("submit", (event) => {
    event.preventDefault();
    apply();
  });

  const table = tableView<Document>({
    caption: "Documents",
    testid: "documents-table",
    empty: "No documents yet: upload some above.",
    key: (d) => d.id,
    rowAttrs: (d) => ({ "data-testid": "doc-row", "data-id": d.id, "data-status": d.status }),
    columns: [
      { header: "Title", cell: titleCell },
      { header: "Status", cell: (d) => statusCell(d, retry) },
      { header: "Chunks", cell: (d) => formatInt(d.chunk_count), className: "num" },
      { header: "Groups", cell: (d) => chips(d.groups) },
      { header: "Classification", cell: (d) => h("span", { class: `level level-${d.classification}` }, d.classification) },
      { header: "Tags", cell: (d) => chips(d.tags, "chips-tags") },
      { header: "Version", cell: versionCell, className: "num" },
      { header: "Updated", cell: (d) => timeEl(d.updated_at) },
      { header: "Actions", hiddenHeader: true, cell: (d) => actionsCell(d) },
    ],
  });
  const pages = pager("documents", PAGE_SIZE, (offset) => {
    filters.offset = offset;
    load(true);
  });
  const poll = poller(async () => {
    if (!loading) await load(false);
    return current.some(isActive);
  }, POLL_MS, ctx.signal);

  function query() {
    return {
      limit: PAGE_SIZE,
      offset: filters.offset,
      q: filters.q,
      status: filters.status,
      classification: filters.classification,
      group: filters.group,
      tag: filters.tag,
    };
  }

  async function load(tracked: boolean): Promise<void> {
    const mine = ++seq;
    loading = true;
    const request = api.get<DocumentList>("/v1/documents", query(), ctx.signal);
    try {
      const data = await (tracked ? ctx.track(request) : request);
      if (mine !== seq) return;
      if (!data.documents.length && filters.offset > 0 && data.total > 0) {
        // The page emptied (deleted rows): show the last page there is.
        filters.offset = Math.max(0, Math.floor((data.total - 1) / PAGE_SIZE) * PAGE_SIZE);
        return load(tracked);
      }
      error.clear();
      current = data.documents;
      const filtered = Boolean(filters.q || filters.status || filters.classification || filters.group || filters.tag);
      table.setRows(current, filtered ? "No documents match these filters." : undefined);
      pages.update(filters.offset, current.length, data.total);
      if (current.some(isActive)) poll.start();
      else poll.stop();
    } catch (err) {
      if (mine === seq) error.show(err);
    } finally {
      if (mine === seq) loading = false;
    }
  }

  /** Put a document the server returned in place of its row, without a reload. */
  function replace(doc: Document): void {
    current = current.map((d) => (d.id === doc.id ? doc : d));
    table.setRows(current);
    if (isActive(doc)) poll.start();
  }

  async function retry(doc: Document, btn: HTMLButtonElement): Promise<void> {
    error.clear();
    btn.disabled = true;
    try {
      replace(await api.post<Document>(`/v1/documents/${seg(doc.id)}/retry`));
      toast(`“${doc.title}” is queued again.`);
    } catch (err) {
      error.show(err);
      btn.disabled = false;
    }
  }

  function actionsCell(doc: Document): HTMLElement {
    const name = doc.title || doc.filename;
    const edit = button("Edit", { "data-testid": "doc-edit", "data-action": "edit", "aria-label": `Edit ${name}` }, "link");
    const versions = button("Versions", { "data-testid": "doc-versions", "data-action": "versions", "aria-label": `Versions of ${name}` }, "link");
    const remove = button("Delete", { "data-testid": "doc-delete", "data-action": "delete", "aria-label": `Delete ${name}` }, "link");
    remove.classList.add("danger-link");
    edit.addEventListener("click", () =>
      editDocument(doc, (updated) => {
        replace(updated);
        toast(`Saved “${updated.title}”.`);
      }),
    );
    versions.addEventListener("click", () => showVersions(doc));
    remove.addEventListener("click", () =>
      deleteDocument(doc, () => {
        toast(`Deleted “${name}”.`);
        void load(true);
      }),
    );
    return h("div", { class: "row-actions" }, edit, versions, remove);
  }

  const el = section(
    "All documents",
    { testid: "documents-section" },
    filterForm,
    error.el,
    table.el,
    pages.el,
  );
  return {
    el,
    load: (tracked: boolean) => void load(tracked),
    refreshSoon: debounce(() => void load(false), 500, ctx.signal),
  };
}

function isActive(doc: Document): boolean {
  return doc.status === "queued" || doc.status === "processing";
}

function titleCell(doc: Document): HTMLElement {
  return h(
    "div",
    { class: "doc-title" },
    h("span", { class: "doc-name" }, doc.title || doc.filename),
    doc.title && doc.title !== doc.filename ? h("span", { class: "muted small" }, doc.filename) : null,
  );
}

function statusCell(doc: Document, retry: (doc: Document, btn: HTMLButtonElement) => Promise<void>): HTMLElement {
  const cell = h("div", { class: "doc-status" }, badge(doc.status));
  if (isActive(doc)) {
    const stage = doc.status === "queued" ? "waiting" : doc.stage;
    cell.append(
      h("span", { class: "stage" }, `${stage} · ${doc.progress}%`),
      h("progress", { max: 100, value: doc.progress, "aria-label": `Indexing progress of ${doc.title || doc.filename}` }),
    );
  } else if (doc.status === "failed") {
    const again = button("Retry", { "data-testid": "doc-retry", "data-action": "retry", "aria-label": `Retry ${doc.title || doc.filename}` }, "secondary");
    again.classList.add("btn-small");
    again.addEventListener("click", () => void retry(doc, again));
    cell.append(h("p", { class: "row-error", "data-testid": "doc-error" }, doc.error || "Indexing failed."), again);
  }
  return cell;
}

function versionCell(doc: Document): HTMLElement {
  const behind = doc.indexed_version > 0 && doc.indexed_version < doc.version;
  return h(
    "span",
    {},
    `v${doc.version}`,
    behind ? h("span", { class: "muted small block" }, `indexed v${doc.indexed_version}`) : null,
  );
}

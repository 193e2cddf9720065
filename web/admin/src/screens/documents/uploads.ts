// The upload queue: each file its own XMLHttpRequest (for upload progress), at most 3 at a time, then its
// ingestion followed by polling GET /v1/documents/{id} until ready or failed. The queue outlives the Documents
// screen (uploads go on while you look elsewhere) and ends with the session.

import { api, ApiError, csrfHeaders, describeError, errorFrom, NETWORK_ERROR, sessionEnded, seg } from "../../api";
import { badge } from "../../components/badge";
import { toast } from "../../components/toast";
import { h } from "../../dom";
import { formatBytes } from "../../format";
import { poller, type Poller } from "../../timing";
import type { Document } from "../../types";

export const MAX_PARALLEL_UPLOADS = 3;
const WATCH_INTERVAL_MS = 2000;

export interface UploadFields {
  groups: string[];
  classification: string;
  tags: string[];
}

type UploadStatus = "waiting" | "uploading" | "queued" | "processing" | "ready" | "failed" | "cancelled";

interface Upload {
  file: File;
  fields: UploadFields;
  status: UploadStatus;
  xhr: XMLHttpRequest | null;
  document: Document | null;
  row: HTMLLIElement;
  bar: HTMLProgressElement;
  badgeHolder: HTMLSpanElement;
  detail: HTMLSpanElement;
  message: HTMLParagraphElement;
  cancel: HTMLButtonElement;
}

class UploadQueue {
  readonly list = h("ul", { class: "uploads", "aria-label": "Uploads", "data-testid": "upload-list" });
  private readonly uploads: Upload[] = [];
  private active = 0;
  private readonly controller = new AbortController();
  private readonly watcher: Poller;
  /** The Documents screen listens, to refresh its table when a document appears or changes state. */
  onDocumentChanged: (() => void) | null = null;

  constructor() {
    this.watcher = poller(() => this.watch(), WATCH_INTERVAL_MS, this.controller.signal, false);
  }

  add(files: readonly File[], fields: UploadFields): void {
    for (const file of files) {
      const upload = this.row(file, fields);
      this.uploads.push(upload);
      this.list.appendChild(upload.row);
    }
    this.pump();
  }

  get hasFinished(): boolean {
    return this.uploads.some((u) => isFinal(u.status));
  }

  clearFinished(): void {
    for (const upload of this.uploads.filter((u) => isFinal(u.status))) {
      upload.row.remove();
      this.uploads.splice(this.uploads.indexOf(upload), 1);
    }
  }

  dispose(): void {
    this.controller.abort();
    for (const upload of this.uploads) upload.xhr?.abort();
    this.uploads.length = 0;
    this.list.replaceChildren();
  }

  private row(file: File, fields: UploadFields): Upload {
    const label = `${file.name}: upload and indexing progress`;
    const bar = h("progress", { max: 100, value: 0, "aria-label": label });
    const badgeHolder = h("span", { class: "upload-badge" });
    const detail = h("span", { class: "upload-detail" });
    const message = h("p", { class: "upload-message", role: "alert", "data-testid": "upload-message" });
    const cancel = h(
      "button",
      { type: "button", class: "btn btn-quiet btn-small", "aria-label": `Cancel upload of ${file.name}`, "data-testid": "upload-cancel" },
      "Cancel",
    );
    const row = h(
      "li",
      { class: "upload", "data-testid": "upload-row", "data-status": "waiting" },
      h(
        "div",
        { class: "upload-head" },
        h("span", { class: "upload-name" }, file.name),
        h("span", { class: "upload-size muted" }, formatBytes(file.size)),
        badgeHolder,
        detail,
        cancel,
      ),
      bar,
      message,
    );
    const upload: Upload = { file, fields, status: "waiting", xhr: null, document: null, row, bar, badgeHolder, detail, message, cancel };
    cancel.addEventListener("click", () => this.cancel(upload));
    this.set(upload, "waiting");
    return upload;
  }

  private set(upload: Upload, status: UploadStatus, detail = ""): void {
    upload.status = status;
    upload.row.dataset.status = status;
    upload.badgeHolder.replaceChildren(badge(status));
    upload.detail.textContent = detail;
    upload.cancel.hidden = status !== "waiting" && status !== "uploading";
    if (status === "ready") upload.bar.value = 100;
  }

  private cancel(upload: Upload): void {
    if (upload.status === "uploading") upload.xhr?.abort(); // onabort finishes it
    else if (upload.status === "waiting") this.set(upload, "cancelled");
  }

  private pump(): void {
    while (this.active < MAX_PARALLEL_UPLOADS) {
      const next = this.uploads.find((u) => u.status === "waiting");
      if (!next) return;
      this.start(next);
    }
  }

  private start(upload: Upload): void {
    this.active += 1;
    this.set(upload, "uploading", "0%");
    const form = new FormData();
    form.append("file", upload.file, upload.file.name);
    form.append("groups", upload.fields.groups.join(","));
    form.append("classification", upload.fields.classification);
    if (upload.fields.tags.length) form.append("tags", upload.fields.tags.join(","));

    const xhr = new XMLHttpRequest();
    upload.xhr = xhr;
    xhr.open("POST", "/v1/documents");
    xhr.setRequestHeader("Accept", "application/json");
    for (const [name, value] of Object.entries(csrfHeaders())) xhr.setRequestHeader(name, value);
    xhr.upload.onprogress = (event) => {
      if (!event.lengthComputable) return;
      const percent = Math.round((event.loaded / event.total) * 100);
      upload.bar.value = percent;
      upload.detail.textContent = `${percent}%`;
    };
    const finish = () => {
      upload.xhr = null;
      this.active -= 1;
      this.pump();
    };
    xhr.onload = () => {
      finish();
      if (xhr.status === 200 || xhr.status === 202) {
        try {
          const doc = JSON.parse(xhr.responseText) as Document;
          this.track(upload, doc, xhr.status === 200);
        } catch {
          this.fail(upload, "The server accepted the file but sent an answer the console cannot read.");
        }
        return;
      }
      const error = errorFrom(xhr.status, xhr.responseText, xhr.getResponseHeader("Retry-After"));
      if (xhr.status === 401) sessionEnded();
      this.fail(upload, describeError(error));
    };
    xhr.onerror = () => {
      finish();
      this.fail(upload, NETWORK_ERROR);
    };
    xhr.onabort = () => {
      finish();
      if (upload.status === "uploading") this.set(upload, "cancelled");
    };
    xhr.send(form);
  }

  private fail(upload: Upload, message: string): void {
    this.set(upload, "failed");
    upload.message.textContent = message;
    upload.bar.value = 0;
    toast(`${upload.file.name} failed: ${message}`, "warn");
  }

  /** After the upload: the document's own state, and watching it while it is queued or processing. */
  private track(upload: Upload, doc: Document, unchanged = false): void {
    upload.document = doc;
    upload.bar.value = doc.status === "ready" ? 100 : doc.progress;
    if (doc.status === "failed") {
      this.fail(upload, doc.error || "Indexing failed.");
    } else if (doc.status === "ready") {
      this.set(upload, "ready", unchanged ? "Unchanged: this version was already indexed" : `${doc.chunk_count} chunks`);
      if (!unchanged) toast(`${upload.file.name} is ready.`);
    } else {
      const stage = doc.status === "queued" ? "waiting for a worker" : `${doc.stage} ${doc.progress}%`;
      this.set(upload, doc.status, stage);
      this.watcher.start();
    }
    this.onDocumentChanged?.();
  }

  private async watch(): Promise<boolean> {
    const pending = this.uploads.filter((u) => u.document && (u.status === "queued" || u.status === "processing"));
    for (let i = 0; i < pending.length; i += MAX_PARALLEL_UPLOADS) {
      await Promise.all(
        pending.slice(i, i + MAX_PARALLEL_UPLOADS).map(async (upload) => {
          const id = upload.document!.id;
          try {
            const doc = await api.get<Document>(`/v1/documents/${seg(id)}`, undefined, this.controller.signal);
            upload.message.textContent = "";
            if (doc.status !== upload.document?.status || doc.progress !== upload.document.progress || doc.stage !== upload.document.stage) {
              this.track(upload, doc);
            }
          } catch (err) {
            if (err instanceof ApiError && err.status === 404) this.fail(upload, "The document was deleted.");
            else upload.message.textContent = describeError(err);
          }
        }),
      );
    }
    return this.uploads.some((u) => u.status === "queued" || u.status === "processing");
  }
}

function isFinal(status: UploadStatus): boolean {
  return status === "ready" || status === "failed" || status === "cancelled";
}

let queue: UploadQueue | null = null;

export function uploads(): UploadQueue {
  queue ??= new UploadQueue();
  return queue;
}

/** On sign-out or session end: abort what is in flight and forget the list. */
export function resetUploads(): void {
  queue?.dispose();
  queue = null;
}

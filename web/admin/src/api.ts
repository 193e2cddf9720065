// The one way to the API: same-origin fetch with the session cookie, the CSRF header on every non-GET request,
// JSON errors turned into ApiError, and any 401 ending the session in the console.

import type { ErrorBody } from "./types";

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** Seconds to wait before trying again (429, 503), when the server said. */
    readonly retryAfter: number | null = null,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

// The CSRF token lives in memory only: a reload asks the server for the session again.
let csrfToken: string | null = null;
let unauthorized: (() => void) | null = null;

export function setCsrfToken(token: string | null): void {
  csrfToken = token;
}

/** Headers every state-changing request carries. */
export function csrfHeaders(): Record<string, string> {
  return csrfToken ? { "X-CSRF-Token": csrfToken } : {};
}

/** Called once, by main: what to do when the server says the session is gone. */
export function onUnauthorized(handler: () => void): void {
  unauthorized = handler;
}

export function sessionEnded(): void {
  unauthorized?.();
}

export type Query = Record<string, string | number | boolean | null | undefined>;

export function buildUrl(path: string, query?: Query): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query ?? {})) {
    if (value === undefined || value === null || value === "") continue;
    params.set(name, String(value));
  }
  const search = params.toString();
  return search ? `${path}?${search}` : path;
}

export function parseRetryAfter(value: string | null): number | null {
  if (!value) return null;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, Math.ceil(seconds));
  const date = Date.parse(value);
  return Number.isNaN(date) ? null : Math.max(0, Math.ceil((date - Date.now()) / 1000));
}

const FALLBACK_MESSAGES: Record<number, string> = {
  400: "The request was not accepted.",
  401: "Your session ended. Sign in again.",
  403: "You are not allowed to do this.",
  404: "Not found: it may have been deleted.",
  409: "This conflicts with the current state. Reload and try again.",
  413: "The file is larger than the server accepts.",
  415: "This file type is not supported.",
  422: "Some of the input is not valid.",
  429: "Too many requests. Wait a moment and try again.",
  503: "The service is unavailable. Try again shortly.",
};

/** An ApiError from a status, the raw body and Retry-After: the server's message when it sent the usual JSON. */
export function errorFrom(status: number, bodyText: string, retryAfterHeader: string | null): ApiError {
  const retryAfter = parseRetryAfter(retryAfterHeader);
  try {
    const body = JSON.parse(bodyText) as Partial<ErrorBody>;
    if (body && body.error && typeof body.error.message === "string") {
      return new ApiError(status, String(body.error.code ?? "error"), body.error.message, retryAfter);
    }
  } catch {
    // not JSON: fall through to a message of our own, never the raw body
  }
  const message =
    FALLBACK_MESSAGES[status] ??
    (status >= 500 ? `The server had a problem (HTTP ${status}). Try again later.` : `The request failed (HTTP ${status}).`);
  return new ApiError(status, "http_" + status, message, retryAfter);
}

export const NETWORK_ERROR = "Could not reach the server. Check your connection and try again.";

export interface RequestOptions {
  query?: Query;
  body?: unknown;
  signal?: AbortSignal;
  /** false: a 401 is just an error (the sign-in form and the session probe); default true ends the session. */
  endSessionOn401?: boolean;
}

export async function request<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
  const headers: Record<string, string> = { Accept: "application/json" };
  if (method !== "GET" && method !== "HEAD") Object.assign(headers, csrfHeaders());
  let body: string | undefined;
  if (options.body !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(options.body);
  }
  let response: Response;
  try {
    response = await fetch(buildUrl(path, options.query), {
      method,
      headers,
      body,
      credentials: "same-origin",
      signal: options.signal,
    });
  } catch (err) {
    if (isAbort(err)) throw err;
    throw new ApiError(0, "network_error", NETWORK_ERROR);
  }
  const text = await response.text();
  if (!response.ok) {
    const error = errorFrom(response.status, text, response.headers.get("Retry-After"));
    if (response.status === 401 && options.endSessionOn401 !== false) sessionEnded();
    throw error;
  }
  if (response.status === 204 || !text) return undefined as T;
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new ApiError(response.status, "bad_response", "The server sent an answer the console cannot read.");
  }
}

export const api = {
  get: <T>(path: string, query?: Query, signal?: AbortSignal) => request<T>("GET", path, { query, signal }),
  post: <T>(path: string, body?: unknown, signal?: AbortSignal) => request<T>("POST", path, { body, signal }),
  patch: <T>(path: string, body: unknown, signal?: AbortSignal) => request<T>("PATCH", path, { body, signal }),
  put: <T>(path: string, body?: unknown, signal?: AbortSignal) => request<T>("PUT", path, { body, signal }),
  del: <T = void>(path: string, signal?: AbortSignal) => request<T>("DELETE", path, { signal }),
};

/** A path segment, escaped. */
export function seg(value: string): string {
  return encodeURIComponent(value);
}

export function isAbort(err: unknown): boolean {
  return err instanceof DOMException && err.name === "AbortError";
}

/** What to tell people about a failure: the server's message, never a raw exception. */
export function describeError(err: unknown): string {
  if (err instanceof ApiError) {
    if (err.retryAfter !== null && (err.status === 429 || err.status === 503)) {
      const wait = err.retryAfter === 1 ? "1 second" : `${err.retryAfter} seconds`;
      return `${err.message} Try again in ${wait}.`;
    }
    return err.message;
  }
  return "Something went wrong. Try again, or reload the page.";
}

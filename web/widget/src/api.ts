// Steward's two widget endpoints: the chat stream and feedback. Both authenticate with the host site's
// token and retry once with a fresh one on 401 (the cached token may have been revoked or the clock skewed).

import { ApiError, isAbort } from "./errors";
import { SseParser } from "./sse";
import type { TokenSource } from "./token";
import type { ChatEvent, ChatRequest, ErrorBody, Rating } from "./types";

export function endpoint(api: string, path: string): string {
  return api.replace(/\/+$/, "") + path;
}

/** Seconds from a Retry-After header: either a number of seconds or an HTTP date. */
export function parseRetryAfter(value: string | null): number | null {
  if (!value) return null;
  const s = Number(value);
  if (Number.isFinite(s)) return Math.max(0, Math.ceil(s));
  const at = Date.parse(value);
  return Number.isNaN(at) ? null : Math.max(0, Math.ceil((at - Date.now()) / 1000));
}

async function errorFrom(res: Response): Promise<ApiError> {
  let code = "";
  let message = "";
  try {
    const body = (await res.json()) as ErrorBody;
    code = body.error.code || "";
    message = body.error.message || "";
  } catch {
    // not JSON (a proxy's HTML page, say): the element falls back to a generic message
  }
  return new ApiError("http", message, res.status, code, parseRetryAfter(res.headers.get("Retry-After")));
}

async function authorized(
  tokens: TokenSource,
  url: string,
  init: RequestInit,
  accept: string,
): Promise<Response> {
  const attempt = async (fresh: boolean): Promise<Response> => {
    const token = await tokens.get(fresh);
    try {
      return await fetch(url, {
        ...init,
        headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json", Accept: accept },
      });
    } catch (e) {
      throw isAbort(e) ? new ApiError("aborted") : new ApiError("network");
    }
  };
  let res = await attempt(false);
  if (res.status === 401) {
    res.body?.cancel().catch(() => {});
    res = await attempt(true);
    if (res.status === 401) {
      const err = await errorFrom(res);
      throw new ApiError("expired", err.message, 401, err.code);
    }
  }
  if (!res.ok) throw await errorFrom(res);
  return res;
}

/**
 * Runs one chat request, calling `onEvent` synchronously for each event as soon as its bytes arrive (no
 * batching: a token must paint in the same task that read it). Resolves after `done`; rejects with an
 * ApiError otherwise, including an `error` event (kind "stream") and a stream that ends early ("network").
 */
export async function streamChat(
  api: string,
  tokens: TokenSource,
  body: ChatRequest,
  signal: AbortSignal,
  onEvent: (ev: ChatEvent) => void,
): Promise<void> {
  const res = await authorized(
    tokens,
    endpoint(api, "/v1/chat"),
    { method: "POST", body: JSON.stringify(body), signal },
    "text/event-stream",
  );
  if (!res.body) throw new ApiError("network");
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  const parser = new SseParser();
  for (;;) {
    let chunk: ReadableStreamReadResult<Uint8Array>;
    try {
      chunk = await reader.read();
    } catch (e) {
      throw signal.aborted || isAbort(e) ? new ApiError("aborted") : new ApiError("network");
    }
    if (chunk.done) throw new ApiError("network"); // the server always ends with done or error
    for (const raw of parser.push(decoder.decode(chunk.value, { stream: true }))) {
      let data: unknown;
      try {
        data = JSON.parse(raw.data);
      } catch {
        continue; // a malformed event is skipped rather than ending the answer
      }
      const ev = { event: raw.event, data } as ChatEvent;
      if (ev.event === "error") {
        reader.cancel().catch(() => {});
        throw new ApiError("stream", ev.data.error?.message || "", 200, ev.data.error?.code || "");
      }
      onEvent(ev);
      if (ev.event === "done") {
        reader.cancel().catch(() => {});
        return;
      }
    }
  }
}

export async function sendFeedback(
  api: string,
  tokens: TokenSource,
  body: { message_id: string; rating: Rating; comment: string },
): Promise<void> {
  await authorized(
    tokens,
    endpoint(api, "/v1/feedback"),
    { method: "POST", body: JSON.stringify(body) },
    "application/json",
  );
}

// One error type for everything that can go wrong between the widget and its two servers, so the element
// maps failures to messages in one place (element.ts `describe`).

export type ErrorKind =
  | "token" // the host site's token endpoint failed (status 0 when it could not be reached)
  | "expired" // Steward still said 401 after a fresh token
  | "http" // any other non-2xx answer from Steward
  | "stream" // an `error` event inside a 200 stream
  | "network" // fetch threw, or the stream broke before `done`
  | "aborted"; // the user pressed Stop (or started over)

export class ApiError extends Error {
  constructor(
    readonly kind: ErrorKind,
    message = "",
    readonly status = 0,
    readonly code = "",
    // seconds; null when the server did not say
    readonly retryAfter: number | null = null,
  ) {
    super(message);
  }
}

export function isAbort(e: unknown): boolean {
  return e instanceof DOMException && e.name === "AbortError";
}

// The short-lived token the host site's backend mints for the signed-in user. Kept in memory only: a token
// in localStorage would outlive the session and be readable by any script on the host page.

import { ApiError } from "./errors";

const MARGIN_MS = 30_000; // refetch this long before expiry, so a token never dies in flight
const FALLBACK_TTL_S = 60; // when neither `exp` nor `expires_in` says: short, so a stale token is not reused long

interface TokenResponse {
  token?: string;
  access_token?: string;
  expires_in?: number;
}

function jwtExpiry(token: string): number | null {
  try {
    const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const claims = JSON.parse(atob(part + "===".slice((part.length + 3) % 4)));
    return typeof claims.exp === "number" ? claims.exp * 1000 : null;
  } catch {
    return null;
  }
}

export class TokenSource {
  private token = "";
  private expiresAt = 0;
  private pending: Promise<string> | null = null;

  constructor(readonly url: string) {}

  /** A valid token; `fresh` skips the cache (Steward just said 401). Concurrent callers share one fetch. */
  get(fresh = false): Promise<string> {
    if (!fresh && this.token && Date.now() < this.expiresAt - MARGIN_MS) return Promise.resolve(this.token);
    if (!this.pending) {
      this.pending = this.fetch().finally(() => {
        this.pending = null;
      });
    }
    return this.pending;
  }

  private async fetch(): Promise<string> {
    this.token = "";
    let res: Response;
    try {
      res = await fetch(this.url, { credentials: "include", headers: { Accept: "application/json" } });
    } catch {
      throw new ApiError("token");
    }
    if (!res.ok) throw new ApiError("token", "", res.status);
    let body: TokenResponse;
    try {
      body = await res.json();
    } catch {
      throw new ApiError("token", "", res.status);
    }
    const token = body.token || body.access_token;
    if (typeof token !== "string" || !token) throw new ApiError("token", "", res.status);
    const ttl = typeof body.expires_in === "number" ? body.expires_in : FALLBACK_TTL_S;
    this.expiresAt = jwtExpiry(token) ?? Date.now() + ttl * 1000;
    this.token = token;
    return token;
  }
}

// Wire shapes of the admin API, as the server sends them. Timestamps are ISO 8601 strings.

export type Role = "admin" | "user" | "app";
export type Classification = "public" | "internal" | "confidential" | "restricted";
export type DocumentStatus = "queued" | "processing" | "ready" | "failed";
export type Scope = "search" | "chat" | "ingest" | "admin";

export const CLASSIFICATIONS: readonly Classification[] = ["public", "internal", "confidential", "restricted"];
export const DOCUMENT_STATUSES: readonly DocumentStatus[] = ["queued", "processing", "ready", "failed"];
export const ROLES: readonly Role[] = ["admin", "user", "app"];
export const SCOPES: readonly Scope[] = ["search", "chat", "ingest", "admin"];

export interface ErrorBody {
  error: { code: string; message: string };
}

export interface Principal {
  id: string;
  name: string;
  role: string;
}

export interface Session {
  principal: Principal;
  csrf_token: string;
  expires_at: string;
}

/** GET /v1/admin/sso: whether the console offers single sign-on through an OpenID provider. */
export interface SsoStatus {
  enabled: boolean;
  provider: string | null;
}

export interface Page {
  total: number;
  limit?: number;
  offset?: number;
}

// Documents

export interface Document {
  id: string;
  title: string;
  filename: string;
  format: string;
  size_bytes: number;
  groups: string[];
  classification: string;
  tags: string[];
  version: number;
  indexed_version: number;
  status: DocumentStatus;
  stage: string;
  progress: number;
  chunk_count: number;
  error: string | null;
  created_at: string;
  updated_at: string;
  source: string | null;
}

export interface DocumentList extends Page {
  documents: Document[];
}

export interface DocumentUpdate {
  title?: string;
  groups?: string[];
  classification?: Classification;
  tags?: string[];
}

export interface DocumentVersion {
  version: number;
  filename: string;
  size_bytes: number;
  sha256: string;
  uploaded_by: string | null;
  uploaded_at: string;
}

// Access: groups, principals, keys, sites

export interface Group {
  name: string;
  clearance: string;
  description: string;
  members: string[];
  created_at: string;
}

export interface GroupList {
  groups: Group[];
}

export interface PrincipalRow {
  id: string;
  name: string;
  role: string;
  groups: string[];
  created_at: string;
}

export interface PrincipalList extends Page {
  principals: PrincipalRow[];
}

export interface ApiKey {
  prefix: string;
  principal_id: string;
  principal_name: string;
  role: string;
  label: string;
  scopes: string[];
  created_at: string;
  expires_at: string | null;
  last_used_at: string | null;
  revoked_at: string | null;
}

export interface IssuedKey extends ApiKey {
  key: string;
}

export interface KeyList extends Page {
  keys: ApiKey[];
}

export interface KeyCreate {
  name: string;
  role: Role;
  groups: string[];
  scopes?: Scope[];
  expires_in_days?: number;
  label?: string;
}

export interface Site {
  id: string;
  name: string;
  origins: string[];
  groups: string[];
  requests_per_minute: number | null;
  tokens_per_day: number | null;
  created_at: string;
  secret_rotated_at: string | null;
  /** HS256 (a secret Steward generates) or RS256/ES256 (the site's public key, set with the CLI). */
  algorithm?: string;
}

export interface SiteWithSecret extends Site {
  /** HS256 only: shown this once. */
  secret: string | null;
}

export interface SiteList extends Page {
  sites: Site[];
}

export interface SiteFields {
  name: string;
  origins: string[];
  groups: string[];
  requests_per_minute: number | null;
  tokens_per_day: number | null;
}

// Oversight

export interface AuditEvent {
  id: number | string;
  created_at: string;
  principal_id: string | null;
  principal_name: string | null;
  action: string;
  decision: string | null;
  rule_id: string | null;
  reason: string | null;
  details: Record<string, unknown> | null;
  /** The payload was erased (a person's data erasure); the row stays in the chain. */
  erased?: boolean;
}

export interface AuditList extends Page {
  events: AuditEvent[];
}

export interface VerifyResult {
  ok: boolean;
  rows: number;
  bad_row_id: number | null;
  problem: string | null;
  summary?: string;
}

export interface NearestDocument {
  document_id: string;
  title: string;
  similarity: number;
}

export interface UnansweredQuestion {
  id: string;
  created_at: string;
  principal_id: string | null;
  channel: string;
  question: string;
  query: string;
  best_similarity: number | null;
  nearest: NearestDocument[];
}

export interface UnansweredList extends Page {
  questions: UnansweredQuestion[];
}

export interface Citation {
  source: string | null;
  document_id: string | null;
  title: string | null;
}

export interface Feedback {
  id: string;
  created_at: string;
  principal_id: string | null;
  principal_name: string | null;
  rating: "up" | "down";
  comment: string | null;
  question: string;
  answer: string;
  citations: Citation[];
}

export interface FeedbackList extends Page {
  feedback: Feedback[];
}

export interface FailedJob {
  document_id: string;
  title: string;
  error: string | null;
  finished_at: string | null;
}

export interface QueueStats {
  queued: number;
  processing: number;
  failed: number;
  ready: number;
  throughput_per_min: number;
  failed_jobs: FailedJob[];
}

// Usage

export interface UsageDay {
  day: string;
  requests: number;
  tokens: number;
  refusals: number;
  not_found: number;
  idk_rate: number;
  latency_p50_ms: number | null;
  latency_p95_ms: number | null;
}

export interface Usage {
  days: UsageDay[];
  top_documents: { document_id: string; title: string; citations: number }[];
  by_group: { group: string; requests: number; tokens: number }[];
  by_site: { site: string; requests: number; tokens: number }[];
  groups: string[];
  sites: { id: string; name: string }[];
}

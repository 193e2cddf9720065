// Wire shapes of Steward's chat and feedback API, as the widget reads them (services/api/chat/schemas.py).
// Fields the widget does not use are left out or optional, so a server adding fields breaks nothing.

export type Location = Record<string, string | number>;

export interface Passage {
  heading: string;
  chunk_index: number;
  text: string;
  location?: Location;
}

export interface Citation {
  source: number;
  document_id: string;
  title: string;
  text: string;
  heading?: string;
  score?: number;
  location?: Location;
  locations?: Location[];
  passages?: Passage[];
}

export interface Sentence {
  index: number;
  text: string;
  supported: boolean;
  reason: string;
  cited: number[];
  source: number | null;
  shown: boolean;
}

export type AnswerMode = "generated" | "extractive" | "refused" | "not_found";

export interface NearestDocument {
  document_id: string;
  title: string;
  similarity?: number;
}

export interface DonePayload {
  conversation_id: string;
  message_id?: string | null;
  answer: string;
  mode: AnswerMode;
  citations: Citation[];
  sentences: Sentence[];
  refused: boolean;
  nearest?: NearestDocument[];
  generated: boolean;
}

export interface MetaPayload {
  conversation_id: string;
  sources: Citation[];
}

export interface ErrorBody {
  error: { code: string; message: string };
}

export type ChatEvent =
  | { event: "meta"; data: MetaPayload }
  | { event: "token"; data: { text: string } }
  | { event: "sentence"; data: Sentence }
  | { event: "done"; data: DonePayload }
  | { event: "error"; data: ErrorBody };

export interface ChatRequest {
  question: string;
  stream: true;
  conversation_id?: string;
}

export type Rating = "up" | "down";

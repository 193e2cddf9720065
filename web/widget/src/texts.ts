// Every text the widget shows or announces, in one table: translating the widget is adding one entry here
// (the script tag picks it with data-lang). Functions where a number or a name goes inside the sentence,
// so each language can order its own words.

export interface Texts {
  title: string;
  launcher: string;
  close: string;
  newConversation: string;
  inputLabel: string;
  placeholder: string;
  send: string;
  stop: string;
  empty: string;
  you: string;
  assistant: string;
  thinking: string;
  stopped: string;
  extractive: string;
  nearest: string;
  sources: string;
  source: (n: number, title: string) => string;
  unverified: string;
  unverifiedAnnounced: string;
  location: { section: string; page: string; slide: string; sheet: string; attachment: string };
  retry: string;
  connectionLost: string;
  sessionExpired: string;
  notSignedIn: string;
  tokenFailed: string;
  busy: (wait: string | null) => string;
  quota: (wait: string | null) => string;
  seconds: (s: number) => string;
  failed: (status: number) => string;
  helpful: string;
  notHelpful: string;
  commentLabel: string;
  sendFeedback: string;
  thanks: string;
}

const en: Texts = {
  title: "Ask Steward",
  launcher: "Open Steward chat",
  close: "Close",
  newConversation: "New conversation",
  inputLabel: "Your question",
  placeholder: "Ask a question…",
  send: "Send",
  stop: "Stop",
  empty: "Ask a question about the documents you can read. Answers cite their sources.",
  you: "You:",
  assistant: "Steward:",
  thinking: "Thinking…",
  stopped: "Stopped",
  extractive: "Quoted from the sources",
  nearest: "Closest documents:",
  sources: "Sources:",
  source: (n, title) => `Source ${n}: ${title}`,
  unverified: "unverified",
  unverifiedAnnounced: "(unverified)",
  location: { section: "Section", page: "Page", slide: "Slide", sheet: "Sheet", attachment: "Attachment" },
  retry: "Retry",
  connectionLost: "Connection lost.",
  sessionExpired: "Your session has expired; reload the page.",
  notSignedIn: "You are not signed in to this site.",
  tokenFailed: "Could not get your sign-in token.",
  busy: (wait) => (wait ? `Steward is busy. Try again in ${wait}.` : "Steward is busy. Try again in a moment."),
  quota: (wait) =>
    wait ? `You have reached your question limit. Try again in ${wait}.` : "You have reached your question limit.",
  seconds: (s) => (s < 120 ? `${s} s` : s < 7200 ? `${Math.ceil(s / 60)} min` : `${Math.ceil(s / 3600)} h`),
  failed: (status) => `Something went wrong (HTTP ${status}).`,
  helpful: "Helpful",
  notHelpful: "Not helpful",
  commentLabel: "Tell us more (optional)",
  sendFeedback: "Send feedback",
  thanks: "Thanks for your feedback",
};

export const TEXTS: Record<string, Texts> = { en };

/** The table for a language tag: exact ("pt-BR"), then its base ("pt"), then English. */
export function textsFor(lang: string | null): Texts {
  const tag = (lang || "en").toLowerCase();
  return TEXTS[tag] || TEXTS[tag.split("-")[0]] || en;
}

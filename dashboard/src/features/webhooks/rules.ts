/** The webhook form's rules: which events, the body it posts, and where an API refusal is shown. */
import { ApiError } from "../../lib/api";
import type { WebhookEventType } from "../../lib/types";

export const WEBHOOK_EVENTS: readonly WebhookEventType[] = ["recipient.sent", "recipient.delivered", "recipient.failed", "send.completed", "balance.low"];
export const MAX_WEBHOOKS = 10;

export interface WebhookForm { url: string; events: readonly WebhookEventType[]; description: string }
export interface WebhookBody { url: string; events: WebhookEventType[]; description?: string }
export type FormProblem = "url.required" | "events.required";

/** The selection with `type` switched on or off, always in the catalogue's order (the API gets a stable list). */
export function toggleEvent(selected: readonly WebhookEventType[], type: WebhookEventType, on: boolean): WebhookEventType[] {
  const set = new Set(selected);
  if (on) set.add(type);
  else set.delete(type);
  return WEBHOOK_EVENTS.filter((e) => set.has(e));
}

/** The POST /webhooks body, or what the person still has to fill in. The URL's own rules (https, no private
 * address) are the server's: it knows whether this stack is production. */
export function webhookBody(form: WebhookForm): { body: WebhookBody; problems: [] } | { body: null; problems: FormProblem[] } {
  const url = form.url.trim();
  const events = WEBHOOK_EVENTS.filter((e) => form.events.includes(e));
  const problems: FormProblem[] = [];
  if (!url) problems.push("url.required");
  if (events.length === 0) problems.push("events.required");
  if (problems.length) return { body: null, problems };
  const description = form.description.trim();
  return { body: { url, events, ...(description ? { description } : {}) }, problems: [] };
}

export type Refusal = { kind: "url"; text: string } | { kind: "limit"; text: string } | { kind: "other" };

interface Detail { loc?: unknown; msg?: unknown }

function aboutUrl(d: Detail): boolean {
  return Array.isArray(d.loc) && d.loc.includes("url");
}

/** Where a failed registration is shown: a refused URL next to the URL field (the API's own words), the
 * per-account limit as its own message, anything else in the form's error box. */
export function classifyRefusal(e: unknown): Refusal {
  if (!(e instanceof ApiError)) return { kind: "other" };
  const details = (e.details as Detail[]).filter((d) => d && typeof d === "object");
  if (e.status === 422) {
    const urlDetails = details.filter(aboutUrl);
    if (urlDetails.length) return { kind: "url", text: urlDetails.map((d) => String(d.msg ?? e.message)).join("; ") };
    if (details.length === 0 && /\burl\b/i.test(e.message)) return { kind: "url", text: e.message };
  }
  if (e.code !== "RATE_LIMITED" && (/LIMIT/.test(e.code) || /\bat most\b|\blimit\b|\b10 webhooks\b/i.test(e.message))) {
    return { kind: "limit", text: e.message };
  }
  return { kind: "other" };
}

/** Message limits of the contract, checked while the person types (the server checks them again). */
import { eucKrCount } from "./euckr";

export type SendKind = "gift" | "sms" | "lms" | "email" | "auto";
export type Channel = "sms" | "lms" | "email" | "auto";

export const GIFT_TITLE_MAX = 10;
export const GIFT_CONTENT_MAX = 1500;
export const SMS_MAX_BYTES = 90;
export const LMS_MAX_BYTES = 2000;
export const LMS_TITLE_MAX_BYTES = 40;
export const EMAIL_TITLE_MAX = 200;
export const EMAIL_CONTENT_MAX = 100_000;

export type Problem =
  | { field: "title" | "content"; kind: "required" | "too_long" | "emoji" | "not_euc_kr" | "title_not_allowed" | "control" ; chars?: string[] };

export interface Measure {
  used: number;
  max: number;
  unit: "chars" | "bytes";
}

export interface LimitCheck {
  title: Measure | null;
  content: Measure;
  problems: Problem[];
  /** An SMS too long for 90 bytes that would fit an LMS: offer the switch. */
  suggestLms: boolean;
  /** What `auto` will send (sms when it fits, else lms). */
  autoChannel?: "sms" | "lms";
}

const EMOJI = /\p{Extended_Pictographic}|\p{Regional_Indicator}/u;
const CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]/;

export function chars(text: string): number {
  return [...text].length;
}

export function emojiIn(text: string): string[] {
  const found: string[] = [];
  for (const ch of text) if (EMOJI.test(ch) && !found.includes(ch)) found.push(ch);
  return found;
}

/** `{name}` replaced by the recipient's name, as the server renders it. */
export function render(text: string, name: string | null | undefined): string {
  return text.split("{name}").join(name ?? "");
}

/**
 * Checks title and content for one kind of send. `name` is the recipient name to measure `{name}` with
 * (the longest one of the list, since every rendered message must fit); without it, `{name}` counts empty.
 */
export function checkMessage(kind: SendKind, rawTitle: string, rawContent: string, name?: string): LimitCheck {
  const title = render(rawTitle, name);
  const content = render(rawContent, name);
  const problems: Problem[] = [];
  if (CONTROL.test(content)) problems.push({ field: "content", kind: "control" });
  if (CONTROL.test(title) || /[\r\n\t]/.test(title)) problems.push({ field: "title", kind: "control" });

  if (kind === "gift") {
    const t = chars(title);
    const c = chars(content);
    if (t === 0) problems.push({ field: "title", kind: "required" });
    if (t > GIFT_TITLE_MAX) problems.push({ field: "title", kind: "too_long" });
    if (c === 0) problems.push({ field: "content", kind: "required" });
    if (c > GIFT_CONTENT_MAX) problems.push({ field: "content", kind: "too_long" });
    const te = emojiIn(title);
    const ce = emojiIn(content);
    if (te.length) problems.push({ field: "title", kind: "emoji", chars: te });
    if (ce.length) problems.push({ field: "content", kind: "emoji", chars: ce });
    return {
      title: { used: t, max: GIFT_TITLE_MAX, unit: "chars" },
      content: { used: c, max: GIFT_CONTENT_MAX, unit: "chars" },
      problems,
      suggestLms: false,
    };
  }

  if (kind === "email") {
    const t = chars(title);
    const c = chars(content);
    if (t === 0) problems.push({ field: "title", kind: "required" });
    if (t > EMAIL_TITLE_MAX) problems.push({ field: "title", kind: "too_long" });
    if (c === 0) problems.push({ field: "content", kind: "required" });
    if (c > EMAIL_CONTENT_MAX) problems.push({ field: "content", kind: "too_long" });
    return {
      title: { used: t, max: EMAIL_TITLE_MAX, unit: "chars" },
      content: { used: c, max: EMAIL_CONTENT_MAX, unit: "chars" },
      problems,
      suggestLms: false,
    };
  }

  const c = eucKrCount(content);
  const t = eucKrCount(title);
  const hasTitle = title.length > 0;
  if (content.length === 0) problems.push({ field: "content", kind: "required" });
  if (c.unencodable.length) problems.push({ field: "content", kind: "not_euc_kr", chars: c.unencodable });
  if (hasTitle && t.unencodable.length) problems.push({ field: "title", kind: "not_euc_kr", chars: t.unencodable });

  let channel: "sms" | "lms" = kind === "auto" ? (!hasTitle && c.bytes <= SMS_MAX_BYTES ? "sms" : "lms") : kind;
  if (channel === "sms") {
    if (hasTitle) problems.push({ field: "title", kind: "title_not_allowed" });
    const tooLong = c.bytes > SMS_MAX_BYTES;
    if (tooLong) problems.push({ field: "content", kind: "too_long" });
    return {
      title: null,
      content: { used: c.bytes, max: SMS_MAX_BYTES, unit: "bytes" },
      problems,
      suggestLms: tooLong && c.bytes <= LMS_MAX_BYTES,
      autoChannel: kind === "auto" ? channel : undefined,
    };
  }
  channel = "lms";
  if (c.bytes > LMS_MAX_BYTES) problems.push({ field: "content", kind: "too_long" });
  if (t.bytes > LMS_TITLE_MAX_BYTES) problems.push({ field: "title", kind: "too_long" });
  return {
    title: { used: t.bytes, max: LMS_TITLE_MAX_BYTES, unit: "bytes" },
    content: { used: c.bytes, max: LMS_MAX_BYTES, unit: "bytes" },
    problems,
    suggestLms: false,
    autoChannel: kind === "auto" ? channel : undefined,
  };
}

/**
 * Korean and English. The language is the one the person picked (remembered in localStorage), else Korean
 * for a Korean browser and English otherwise. Numbers and dates use Intl for the language; times are always
 * shown in Korean time (Asia/Seoul), which has no daylight saving, so a time typed in the form is +09:00.
 */
import { en } from "./strings-en";
import { ko } from "./strings-ko";

export type Lang = "ko" | "en";
export type Key = keyof typeof en;
const TABLES: Record<Lang, Record<Key, string>> = { en, ko };
const STORAGE_KEY = "wn.lang";
export const TIME_ZONE = "Asia/Seoul";

export function detectLang(stored: string | null, browser: readonly string[] | string | undefined): Lang {
  if (stored === "ko" || stored === "en") return stored;
  const first = Array.isArray(browser) ? browser[0] : browser;
  return typeof first === "string" && first.toLowerCase().startsWith("ko") ? "ko" : "en";
}

export function initialLang(): Lang {
  let stored: string | null = null;
  try {
    stored = localStorage.getItem(STORAGE_KEY);
  } catch {
    /* storage may be off: fall back to the browser */
  }
  return detectLang(stored, typeof navigator !== "undefined" ? navigator.language : undefined);
}

export function rememberLang(lang: Lang): void {
  try {
    localStorage.setItem(STORAGE_KEY, lang);
  } catch {
    /* not remembered, still switched */
  }
}

const LOCALE: Record<Lang, string> = { ko: "ko-KR", en: "en-US" };

/** `{var}` placeholders filled in as text. */
export function translate(lang: Lang, key: Key, vars?: Record<string, string | number>): string {
  let s = TABLES[lang][key] ?? en[key] ?? key;
  if (vars) for (const [k, v] of Object.entries(vars)) s = s.split(`{${k}}`).join(String(v));
  return s;
}

export function formatNumber(lang: Lang, n: number): string {
  return new Intl.NumberFormat(LOCALE[lang]).format(n);
}

export function formatCredits(lang: Lang, n: number): string {
  return translate(lang, "unit.credits", { n: formatNumber(lang, n) });
}

/** An RFC 3339 time in Korean time, e.g. "2026. 11. 24. 오후 7:00 KST" / "Nov 24, 2026, 7:00 PM KST". */
export function formatDateTime(lang: Lang, iso: string | null | undefined): string {
  if (!iso) return "—";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const s = new Intl.DateTimeFormat(LOCALE[lang], {
    timeZone: TIME_ZONE,
    dateStyle: "medium",
    timeStyle: "short",
  }).format(d);
  return `${s} KST`;
}

/** A `YYYY-MM-DD` date (already a Korean date) in the language's style. */
export function formatDate(lang: Lang, ymd: string | null | undefined): string {
  if (!ymd) return "—";
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(ymd);
  if (!m) return ymd;
  const d = new Date(Date.UTC(+m[1], +m[2] - 1, +m[3], 3));
  return new Intl.DateTimeFormat(LOCALE[lang], { timeZone: TIME_ZONE, dateStyle: "medium" }).format(d);
}

/** A `datetime-local` value read as Korean time, as RFC 3339 (`2026-11-24T19:00:00+09:00`). */
export function koreanLocalToRfc3339(local: string): string | null {
  const m = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2})(?::(\d{2}))?$/.exec(local);
  return m ? `${m[1]}T${m[2]}:${m[3] ?? "00"}+09:00` : null;
}

/** Now in Korean time as a `datetime-local` value (the form's minimum). */
export function koreanLocalNow(now: Date = new Date()): string {
  const k = new Date(now.getTime() + 9 * 3600_000);
  return k.toISOString().slice(0, 16);
}

/**
 * Korean mobile numbers, as the API accepts them: `010-1234-5678`, `01012345678`, `+82 10-1234-5678`
 * (spaces, dots, dashes and brackets ignored; full-width digits read as digits). The server decides with
 * libphonenumber (mobile numbers of region KR); this is the same rule for the common prefixes
 * 010/011/016/017/018/019 with 7 or 8 digits after them, so the per-row report matches what the estimate
 * counts as invalid.
 */

const MOBILE = /^01[016789]\d{7,8}$/;

/** E.164 (`+821012345678`) for a valid Korean mobile number, else null. */
export function normalizeKoreanMobile(raw: string): string | null {
  let s = raw.normalize("NFKC").replace(/[\s.\-()]/g, "");
  if (s.startsWith("+")) {
    if (!s.startsWith("+82")) return null;
    s = s.slice(3);
  } else if (s.startsWith("82") && s.length >= 11) {
    s = s.slice(2);
  }
  if (!/^\d+$/.test(s)) return null;
  if (!s.startsWith("0")) s = "0" + s;
  if (!MOBILE.test(s)) return null;
  return "+82" + s.slice(1);
}

/** The same number shown the Korean way: `010-1234-5678`. */
export function formatKoreanMobile(e164: string): string {
  const m = /^\+82(\d{2})(\d{3,4})(\d{4})$/.exec(e164);
  return m ? `0${m[1]}-${m[2]}-${m[3]}` : e164;
}

const EMAIL = /^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$/;

/** A plausible email address (ASCII local part, as SES needs); the server has the last word. */
export function isPlausibleEmail(raw: string): boolean {
  return EMAIL.test(raw.trim());
}

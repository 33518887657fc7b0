import { describe, expect, it } from "vitest";
import { detectLang, formatCredits, formatDate, formatDateTime, formatNumber, koreanLocalNow, koreanLocalToRfc3339, translate } from "./i18n";
import { en } from "./strings-en";
import { ko } from "./strings-ko";

describe("i18n", () => {
  it("picks Korean for a Korean browser unless the person chose", () => {
    expect(detectLang(null, "ko-KR")).toBe("ko");
    expect(detectLang(null, "ko")).toBe("ko");
    expect(detectLang(null, "en-US")).toBe("en");
    expect(detectLang(null, undefined)).toBe("en");
    expect(detectLang("en", "ko-KR")).toBe("en");
    expect(detectLang("ko", "en-GB")).toBe("ko");
  });

  it("has every string in both languages, none empty", () => {
    expect(Object.keys(ko).sort()).toEqual(Object.keys(en).sort());
    expect(Object.entries(ko).filter(([, v]) => !v)).toEqual([]);
  });

  it("fills placeholders as text", () => {
    expect(translate("en", "history.resent", { n: 3 })).toBe("3 recipients queued again.");
    expect(translate("ko", "history.resent", { n: "<b>3</b>" })).toBe("<b>3</b>명을 다시 발송합니다.");
  });

  it("formats numbers for the language", () => {
    expect(formatNumber("ko", 1234567)).toBe("1,234,567");
    expect(formatCredits("en", 4500)).toBe("4,500 credits");
    expect(formatCredits("ko", 4500)).toBe("4,500 크레딧");
  });

  it("shows times in Korean time", () => {
    // 10:00 UTC is 19:00 in Seoul
    expect(formatDateTime("en", "2026-11-24T10:00:00Z")).toBe("Nov 24, 2026, 7:00 PM KST");
    // the day-period word depends on the ICU data (오후 in browsers)
    expect(formatDateTime("ko", "2026-11-24T10:00:00Z")).toMatch(/^2026\. 11\. 24\. \S+ 7:00 KST$/);
    expect(formatDateTime("en", "2026-11-24T23:30:00+09:00")).toBe("Nov 24, 2026, 11:30 PM KST");
    expect(formatDateTime("en", null)).toBe("—");
    expect(formatDate("ko", "2026-12-23")).toBe("2026. 12. 23.");
    expect(formatDate("en", "2026-12-23")).toBe("Dec 23, 2026");
  });

  it("reads a typed time as Korean time", () => {
    expect(koreanLocalToRfc3339("2026-11-24T19:00")).toBe("2026-11-24T19:00:00+09:00");
    expect(koreanLocalToRfc3339("garbage")).toBeNull();
    expect(koreanLocalNow(new Date("2026-11-24T16:30:00Z"))).toBe("2026-11-25T01:30");
  });
});

import { describe, expect, it } from "vitest";
import { cellsAsText, checkRecipients, parseDelimited, toCsv } from "./recipients";
import { formatKoreanMobile, normalizeKoreanMobile } from "./phone";

describe("Korean mobile numbers (as libphonenumber judges them)", () => {
  it.each([
    ["010-1234-5678", "+821012345678"],
    ["01012345678", "+821012345678"],
    ["+82 10-1234-5678", "+821012345678"],
    ["82-10-1234-5678", "+821012345678"],
    ["(010) 1234.5678", "+821012345678"],
    ["０１０12345678", "+821012345678"],
    ["1012345678", "+821012345678"],
    ["0101111111", "+82101111111"],
    ["011-123-4567", "+82111234567"],
    ["019-1234-5678", "+821912345678"],
  ])("%s is %s", (raw, e164) => expect(normalizeKoreanMobile(raw)).toBe(e164));

  it.each(["02-123-4567", "070-1234-5678", "010-12-3456", "010-1234-56789", "+1 650 555 1234", "0151234567", "phone", ""])(
    "%s is not a Korean mobile number",
    (raw) => expect(normalizeKoreanMobile(raw)).toBeNull(),
  );

  it("shows E.164 the Korean way", () => expect(formatKoreanMobile("+821012345678")).toBe("010-1234-5678"));
});

describe("recipient rows", () => {
  it("reads a CSV with a header and reports invalid, duplicate and missing rows", () => {
    const csv = "이름,휴대폰\n홍길동,010-1234-5678\n김철수,010-123\n이영희,01012345678\n박민수,\n최지우,+82 10 2222 3333\n";
    const check = checkRecipients(parseDelimited(csv), "phone");
    expect(check.recipients).toEqual([
      { name: "홍길동", phone: "+821012345678" },
      { name: "최지우", phone: "+821022223333" },
    ]);
    expect(check.rows.map((r) => [r.line, r.issue])).toEqual([
      [2, null],
      [3, "invalid_phone"],
      [4, "duplicate"],
      [5, "missing_phone"],
      [6, null],
    ]);
    expect(check.problems).toBe(3);
  });

  it("guesses columns of pasted lines without a header", () => {
    const check = checkRecipients(parseDelimited("01012345678\t홍길동\n김철수, a@example.com\n"), "phone");
    expect(check.recipients).toEqual([{ phone: "+821012345678", name: "홍길동" }]);
    expect(check.rows[1].issue).toBe("missing_phone");
  });

  it("checks emails for an email send, duplicates case-insensitively", () => {
    const check = checkRecipients(parseDelimited("email,name\na@example.com,A\nA@Example.com,B\nnot-an-email,C\n"), "email");
    expect(check.recipients).toEqual([{ email: "a@example.com", name: "A" }]);
    expect(check.rows.map((r) => r.issue)).toEqual([null, "duplicate", "invalid_email"]);
  });

  it("reads Excel cells: a number cell without its leading zero is still a phone", () => {
    const check = checkRecipients(cellsAsText([["name", "phone"], ["홍길동", 1012345678], [null, null], ["김", "x"]]), "phone");
    expect(check.recipients).toEqual([{ name: "홍길동", phone: "+821012345678" }]);
    expect(check.rows.map((r) => [r.line, r.issue])).toEqual([
      [2, null],
      [4, "invalid_phone"],
    ]);
  });

  it("exports CSV with a BOM, quoting, and formulas defused", () => {
    const csv = toCsv(["name", "phone"], [["=HYPERLINK(1)", "+821012345678"], ['a "b", c', null]]);
    expect(csv).toBe('\uFEFFname,phone\r\n"\'=HYPERLINK(1)",+821012345678\r\n"a ""b"", c",');
  });
});

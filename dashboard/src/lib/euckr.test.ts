import { describe, expect, it } from "vitest";
import fixture from "./euckr-python.json";
import { eucKrCharBytes, eucKrCount } from "./euckr";

describe("EUC-KR byte counting", () => {
  it("agrees with Python's euc-kr codec on every BMP code point", () => {
    const two = new Set<number>();
    for (const [a, b] of fixture.two_byte_ranges as [number, number][]) for (let c = a; c <= b; c++) two.add(c);
    const mismatches: string[] = [];
    for (let cp = 0x80; cp <= 0xffff; cp++) {
      if (cp >= 0xd800 && cp < 0xe000) continue;
      const want = two.has(cp) ? 2 : cp >= 0xac00 && cp <= 0xd7a3 ? 8 : null;
      if (eucKrCharBytes(cp) !== want) mismatches.push(cp.toString(16));
    }
    expect(mismatches).toEqual([]);
  });

  it("counts ASCII 1, Hangul 2, make-up Hangul 8", () => {
    expect(eucKrCount("abc 123").bytes).toBe(7);
    expect(eucKrCount("당첨을 축하합니다").bytes).toBe(17);
    expect(eucKrCount("똠").bytes).toBe(8);
    expect(eucKrCount("€®").bytes).toBe(4);
  });

  it("flags characters outside EUC-KR once each", () => {
    const c = eucKrCount("축하 🎉🎉 ｱ");
    expect(c.unencodable).toEqual(["🎉", "ｱ"]);
    expect(c.bytes).toBe(6);
  });
});

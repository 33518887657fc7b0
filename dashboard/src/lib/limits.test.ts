import { describe, expect, it } from "vitest";
import { checkMessage, render } from "./limits";

const kinds = (c: ReturnType<typeof checkMessage>) => c.problems.map((p) => `${p.field}:${p.kind}`);

describe("message limits", () => {
  it("gift: title up to 10 characters, content up to 1,500, no emoji", () => {
    expect(kinds(checkMessage("gift", "열글자제목입니다요", "축하합니다"))).toEqual([]);
    expect(kinds(checkMessage("gift", "열한글자제목입니다요!", "x"))).toEqual(["title:too_long"]);
    expect(kinds(checkMessage("gift", "t", "x".repeat(1501)))).toEqual(["content:too_long"]);
    const e = checkMessage("gift", "축하🎉", "선물 🎁");
    expect(kinds(e)).toEqual(["title:emoji", "content:emoji"]);
    expect(e.problems[1].chars).toEqual(["🎁"]);
    expect(kinds(checkMessage("gift", "", ""))).toEqual(["title:required", "content:required"]);
  });

  it("sms: 90 bytes, then the switch to LMS is offered", () => {
    const ok = checkMessage("sms", "", "가".repeat(45));
    expect(ok.content).toEqual({ used: 90, max: 90, unit: "bytes" });
    expect(ok.problems).toEqual([]);
    const long = checkMessage("sms", "", "가".repeat(45) + "a");
    expect(kinds(long)).toEqual(["content:too_long"]);
    expect(long.suggestLms).toBe(true);
    expect(checkMessage("lms", "", "가".repeat(45) + "a").problems).toEqual([]);
  });

  it("sms has no title; lms title 40 bytes, content 2,000", () => {
    expect(kinds(checkMessage("sms", "제목", "내용"))).toEqual(["title:title_not_allowed"]);
    expect(kinds(checkMessage("lms", "가".repeat(21), "가".repeat(1001)))).toEqual(["content:too_long", "title:too_long"]);
  });

  it("auto: sms when it fits, lms otherwise or with a title", () => {
    expect(checkMessage("auto", "", "짧은 글").autoChannel).toBe("sms");
    expect(checkMessage("auto", "", "가".repeat(46)).autoChannel).toBe("lms");
    expect(checkMessage("auto", "제목", "짧은 글").autoChannel).toBe("lms");
  });

  it("emoji cannot go by SMS/LMS but can by email", () => {
    expect(kinds(checkMessage("lms", "", "축하 🎉"))).toEqual(["content:not_euc_kr"]);
    expect(kinds(checkMessage("email", "축하 🎉", "🎉"))).toEqual([]);
    expect(kinds(checkMessage("email", "", "x"))).toEqual(["title:required"]);
  });

  it("{name} is measured with the recipient's name", () => {
    expect(render("{name}님 {name}", "홍길동")).toBe("홍길동님 홍길동");
    expect(checkMessage("sms", "", "{name}님 당첨", "홍길동").content.used).toBe(6 + 2 + 1 + 4);
    expect(checkMessage("sms", "", "{name}님").content.used).toBe(2);
  });
});

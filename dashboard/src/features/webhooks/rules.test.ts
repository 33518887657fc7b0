import { describe, expect, it } from "vitest";
import { ApiError } from "../../lib/api";
import { WEBHOOK_EVENTS, classifyRefusal, toggleEvent, webhookBody } from "./rules";

describe("webhook event selection", () => {
  it("keeps the catalogue's order whatever order the boxes are ticked in", () => {
    let s = toggleEvent([], "balance.low", true);
    s = toggleEvent(s, "recipient.sent", true);
    s = toggleEvent(s, "send.completed", true);
    expect(s).toEqual(["recipient.sent", "send.completed", "balance.low"]);
  });

  it("unticks, and ticking twice does not duplicate", () => {
    const s = toggleEvent(toggleEvent(["recipient.sent"], "recipient.sent", true), "recipient.failed", true);
    expect(s).toEqual(["recipient.sent", "recipient.failed"]);
    expect(toggleEvent(s, "recipient.sent", false)).toEqual(["recipient.failed"]);
    expect(toggleEvent([], "recipient.sent", false)).toEqual([]);
  });

  it("offers exactly the contract's five event types", () => {
    expect(WEBHOOK_EVENTS).toEqual(["recipient.sent", "recipient.delivered", "recipient.failed", "send.completed", "balance.low"]);
  });
});

describe("the POST /webhooks body", () => {
  it("trims the URL and description and leaves an empty description out", () => {
    expect(webhookBody({ url: "  https://shop.example/hooks  ", events: ["send.completed"], description: "   " })).toEqual({
      body: { url: "https://shop.example/hooks", events: ["send.completed"] },
      problems: [],
    });
    expect(webhookBody({ url: "https://shop.example/hooks", events: ["recipient.failed", "recipient.sent"], description: " CRM " }).body).toEqual({
      url: "https://shop.example/hooks",
      events: ["recipient.sent", "recipient.failed"],
      description: "CRM",
    });
  });

  it("asks for a URL and at least one event before calling the API", () => {
    expect(webhookBody({ url: " ", events: [], description: "x" })).toEqual({ body: null, problems: ["url.required", "events.required"] });
    expect(webhookBody({ url: "https://shop.example/h", events: [], description: "" }).problems).toEqual(["events.required"]);
  });

  it("leaves the URL's rules to the server (it knows whether http://127.0.0.1 is allowed)", () => {
    expect(webhookBody({ url: "http://127.0.0.1:8080/hook", events: ["recipient.sent"], description: "" }).body?.url).toBe("http://127.0.0.1:8080/hook");
  });
});

describe("where a refused registration is shown", () => {
  it("puts the API's words about the URL next to the URL field", () => {
    const e = new ApiError(422, "VALIDATION_ERROR", "request is not valid", [
      { loc: ["body", "url"], msg: "the host 10.0.0.5 is a private address", type: "value_error" },
    ]);
    expect(classifyRefusal(e)).toEqual({ kind: "url", text: "the host 10.0.0.5 is a private address" });
    const domain = new ApiError(422, "VALIDATION_ERROR", "url must be https", [{ loc: ["url"], msg: "url must be https", type: "value_error" }]);
    expect(classifyRefusal(domain)).toEqual({ kind: "url", text: "url must be https" });
    expect(classifyRefusal(new ApiError(422, "VALIDATION_ERROR", "url must use https"))).toEqual({ kind: "url", text: "url must use https" });
  });

  it("does not blame the URL for another field's problem", () => {
    const e = new ApiError(422, "VALIDATION_ERROR", "request is not valid", [{ loc: ["body", "events", 0], msg: "Input should be 'recipient.sent', ...", type: "enum" }]);
    expect(classifyRefusal(e)).toEqual({ kind: "other" });
  });

  it("recognises the 10-webhook limit by its code or its message", () => {
    expect(classifyRefusal(new ApiError(409, "WEBHOOK_LIMIT_REACHED", "at most 10 webhooks per account")).kind).toBe("limit");
    expect(classifyRefusal(new ApiError(422, "VALIDATION_ERROR", "an account has at most 10 webhooks", [{ loc: [], msg: "at most 10 webhooks", type: "value_error" }]))).toEqual({
      kind: "limit",
      text: "an account has at most 10 webhooks",
    });
    expect(classifyRefusal(new ApiError(409, "INVALID_STATE", "account already has 10 webhooks; limit reached")).kind).toBe("limit");
  });

  it("leaves rate limiting and other failures to the general error text", () => {
    expect(classifyRefusal(new ApiError(429, "RATE_LIMITED", "rate limit exceeded")).kind).toBe("other");
    expect(classifyRefusal(new ApiError(0, "NETWORK", "network")).kind).toBe("other");
    expect(classifyRefusal(new Error("boom")).kind).toBe("other");
  });
});

import type { ReactNode } from "react";
import { renderToStaticMarkup } from "react-dom/server";
import { describe, expect, it } from "vitest";
import { Ctx, type AppContext } from "../../hooks/context";
import { createApi } from "../../lib/api";
import { translate, type Lang } from "../../lib/i18n";
import { SecretOnce, WebhookFormView, type WebhookFormViewProps } from "./WebhooksPage";

// The node test environment has no DOM: the components are rendered to HTML and the HTML is read.
const noApi = createApi("http://no-api.invalid", () => null, () => {}); // every call fails: no API in this test
const noop = () => {};

function render(node: ReactNode, lang: Lang = "en"): string {
  const ctx: AppContext = { lang, t: (k, v) => translate(lang, k, v), api: noApi };
  return renderToStaticMarkup(<Ctx.Provider value={ctx}>{node}</Ctx.Provider>);
}

function form(over: Partial<WebhookFormViewProps> = {}): WebhookFormViewProps {
  return {
    url: "", events: [], description: "", problems: [], urlError: null, limitError: null, error: null, busy: false, atLimit: false,
    onUrl: noop, onEvent: noop, onDescription: noop, onSubmit: noop, ...over,
  };
}

/** The opening tag of the element with this test id. */
function tag(html: string, testId: string): string | null {
  return new RegExp(`<[a-z]+[^>]*data-testid="${testId.replace(/\./g, "\\.")}"[^>]*>`).exec(html)?.[0] ?? null;
}

/** The text of the element with this test id (no nested elements in the ones read here). */
function text(html: string, testId: string): string | null {
  return new RegExp(`data-testid="${testId}"[^>]*>([^<]*)<`).exec(html)?.[1] ?? null;
}

describe("the webhook form", () => {
  it("has one checkbox per event type, ticked as selected", () => {
    const html = render(<WebhookFormView {...form({ events: ["recipient.sent", "balance.low"] })} />);
    for (const type of ["recipient.sent", "recipient.delivered", "recipient.failed", "send.completed", "balance.low"]) {
      expect(tag(html, `webhook-event-${type}`)).toMatch(/type="checkbox"/);
    }
    expect(tag(html, "webhook-event-recipient.sent")).toMatch(/checked/);
    expect(tag(html, "webhook-event-balance.low")).toMatch(/checked/);
    expect(tag(html, "webhook-event-recipient.failed")).not.toMatch(/checked/);
  });

  it("shows no URL error until there is one", () => {
    const html = render(<WebhookFormView {...form({ url: "https://shop.example/h" })} />);
    expect(tag(html, "webhook-url-error")).toBeNull();
    expect(tag(html, "webhook-url")).not.toMatch(/aria-invalid/);
    expect(tag(html, "webhook-limit")).toBeNull();
  });

  it("shows the API's refusal of the URL under the URL field, tied to it for screen readers", () => {
    const html = render(<WebhookFormView {...form({ url: "https://10.0.0.5/h", urlError: "the host 10.0.0.5 is a private address" })} />);
    expect(text(html, "webhook-url-error")).toBe("the host 10.0.0.5 is a private address");
    expect(tag(html, "webhook-url")).toMatch(/aria-invalid="true"/);
    expect(tag(html, "webhook-url")).toMatch(/aria-describedby="webhook-url-error"/);
    // right after the field, before the event checkboxes
    expect(html.indexOf('data-testid="webhook-url-error"')).toBeGreaterThan(html.indexOf('data-testid="webhook-url"'));
    expect(html.indexOf('data-testid="webhook-url-error"')).toBeLessThan(html.indexOf("<fieldset"));
  });

  it("asks for a URL and an event in the page's language", () => {
    const html = render(<WebhookFormView {...form({ problems: ["url.required", "events.required"] })} />, "ko");
    expect(text(html, "webhook-url-error")).toBe("이벤트를 받을 URL을 입력하세요.");
    expect(text(html, "webhook-events-error")).toBe("이벤트를 하나 이상 고르세요.");
  });

  it("shows the 10-webhook limit and stops registering at it", () => {
    const full = render(<WebhookFormView {...form({ atLimit: true })} />);
    expect(text(full, "webhook-limit")).toContain("at most 10 webhooks");
    expect(tag(full, "webhook-submit")).toMatch(/disabled/);
    const refused = render(<WebhookFormView {...form({ limitError: "at most 10 webhooks per account" })} />);
    expect(text(refused, "webhook-limit")).toContain("(at most 10 webhooks per account)");
    expect(tag(refused, "webhook-submit")).not.toMatch(/disabled/);
  });

  it("renders the API's text as text", () => {
    const html = render(<WebhookFormView {...form({ urlError: '<img src=x onerror="alert(1)">' })} />);
    expect(html).not.toContain("<img");
    expect(text(html, "webhook-url-error")).toBe("&lt;img src=x onerror=&quot;alert(1)&quot;&gt;");
  });
});

describe("the secret", () => {
  const registered = {
    webhook_id: "wh_1", url: "https://shop.example/h", events: ["send.completed" as const], description: null, enabled: true,
    created_at: "2026-11-24T10:00:00Z", secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
  };

  it("is shown with a copy button and the note that it is shown only now", () => {
    const html = render(<SecretOnce webhook={registered} onDone={noop} />);
    expect(text(html, "webhook-secret")).toBe(registered.secret);
    expect(tag(html, "webhook-secret-copy")).toMatch(/<button/);
    expect(html).toContain("Shown only now");
    expect(render(<SecretOnce webhook={registered} onDone={noop} />, "ko")).toContain("지금만 표시됩니다");
  });
});

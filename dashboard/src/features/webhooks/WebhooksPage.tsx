import { useEffect, useRef, useState, type FormEvent } from "react";
import { ErrorBox, Loading, Notice } from "../../components";
import { errorText, useApp } from "../../hooks/context";
import { useLoad } from "../../hooks";
import { listAll, ok } from "../../lib/api";
import { formatDateTime, type Key } from "../../lib/i18n";
import type { RegisteredWebhook, Webhook, WebhookDelivery, WebhookEventType } from "../../lib/types";
import { MAX_WEBHOOKS, WEBHOOK_EVENTS, classifyRefusal, toggleEvent, webhookBody, type FormProblem } from "./rules";

export function WebhooksPage() {
  const { api, t, lang } = useApp();
  const webhooks = useLoad(() => ok(api.GET("/webhooks")).then((p) => p.items), [api]);
  // The secret lives only here, in memory: the API never shows it again and the page never stores it.
  const [registered, setRegistered] = useState<RegisteredWebhook | null>(null);
  const [open, setOpen] = useState<Webhook | null>(null);
  const [confirming, setConfirming] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);

  const remove = async (w: Webhook) => {
    setError(null);
    setNotice(null);
    try {
      await ok(api.DELETE("/webhooks/{webhook_id}", { params: { path: { webhook_id: w.webhook_id } } }));
      setConfirming(null);
      if (open?.webhook_id === w.webhook_id) setOpen(null);
      if (registered?.webhook_id === w.webhook_id) setRegistered(null);
      setNotice(t("webhooks.deleted"));
      webhooks.reload();
    } catch (e) {
      setError(errorText(lang, e));
    }
  };

  const list = webhooks.data;
  return (
    <>
      <h1>{t("nav.webhooks")}</h1>
      <p className="help">{t("webhooks.intro")}</p>
      <RegisterWebhook
        atLimit={(list?.length ?? 0) >= MAX_WEBHOOKS}
        onRegistered={(w) => {
          setRegistered(w);
          setNotice(null);
          webhooks.reload();
        }}
      />
      {registered && <SecretOnce webhook={registered} onDone={() => setRegistered(null)} />}

      <section>
        <h2>{t("webhooks.list")}</h2>
        <ErrorBox text={error ?? webhooks.error} />
        {notice && <Notice>{notice}</Notice>}
        {!list ? (webhooks.error ? null : <Loading />) : list.length === 0 ? <p>{t("common.none")}</p> : (
          <div className="scroll">
            <table data-testid="webhook-list">
              <thead>
                <tr><th>URL</th><th>{t("webhooks.events")}</th><th>{t("webhooks.created")}</th><th>{t("webhooks.enabled")}</th><th><span className="sr-only">{t("webhooks.deliveries")}</span></th></tr>
              </thead>
              <tbody>
                {list.map((w) => (
                  <tr key={w.webhook_id} data-testid="webhook-row" data-webhook-id={w.webhook_id}>
                    <td>
                      <code className="url">{w.url}</code>
                      {w.description && <span className="help block">{w.description}</span>}
                    </td>
                    <td><ul className="events">{w.events.map((e) => <li key={e}><code>{e}</code></li>)}</ul></td>
                    <td>{formatDateTime(lang, w.created_at)}</td>
                    <td>{t(w.enabled ? "webhooks.yes" : "webhooks.no")}</td>
                    <td>
                      {confirming === w.webhook_id ? (
                        <div className="confirm" role="group" aria-label={t("webhooks.delete")}>
                          <p data-testid="webhook-delete-question">{t("webhooks.delete.confirm", { url: w.url })}</p>
                          <button type="button" className="danger" data-testid="webhook-delete-confirm" onClick={() => remove(w)}>{t("webhooks.delete.yes")}</button>
                          <button type="button" data-testid="webhook-delete-cancel" onClick={() => setConfirming(null)}>{t("common.cancel")}</button>
                        </div>
                      ) : (
                        <div className="row actions">
                          <button type="button" data-testid="webhook-deliveries" aria-pressed={open?.webhook_id === w.webhook_id} onClick={() => setOpen(open?.webhook_id === w.webhook_id ? null : w)}>{t("webhooks.deliveries")}</button>
                          <button type="button" data-testid="webhook-delete" onClick={() => setConfirming(w.webhook_id)}>{t("webhooks.delete")}</button>
                        </div>
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>
      {open && <Deliveries key={open.webhook_id} webhook={open} onClose={() => setOpen(null)} />}
    </>
  );
}

function RegisterWebhook({ atLimit, onRegistered }: { atLimit: boolean; onRegistered: (w: RegisteredWebhook) => void }) {
  const { api, lang } = useApp();
  const [url, setUrl] = useState("");
  const [events, setEvents] = useState<WebhookEventType[]>([]);
  const [description, setDescription] = useState("");
  const [problems, setProblems] = useState<FormProblem[]>([]);
  const [urlError, setUrlError] = useState<string | null>(null);
  const [limitError, setLimitError] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const busyRef = useRef(false);

  const submit = async (ev: FormEvent) => {
    ev.preventDefault();
    if (busyRef.current) return;
    const built = webhookBody({ url, events, description });
    setProblems(built.problems);
    setUrlError(null);
    setLimitError(null);
    setError(null);
    if (!built.body) return;
    busyRef.current = true;
    setBusy(true);
    try {
      const w = await ok(api.POST("/webhooks", { body: built.body }));
      setUrl("");
      setEvents([]);
      setDescription("");
      onRegistered(w);
    } catch (e) {
      const refusal = classifyRefusal(e);
      if (refusal.kind === "url") setUrlError(refusal.text);
      else if (refusal.kind === "limit") setLimitError(refusal.text);
      else setError(errorText(lang, e));
    } finally {
      busyRef.current = false;
      setBusy(false);
    }
  };

  return (
    <WebhookFormView
      url={url} events={events} description={description} problems={problems} urlError={urlError}
      limitError={limitError} error={error} busy={busy} atLimit={atLimit}
      onUrl={(v) => { setUrl(v); setUrlError(null); }}
      onEvent={(type, on) => setEvents((s) => toggleEvent(s, type, on))}
      onDescription={setDescription}
      onSubmit={submit}
    />
  );
}

export interface WebhookFormViewProps {
  url: string; events: readonly WebhookEventType[]; description: string; problems: readonly FormProblem[];
  urlError: string | null; limitError: string | null; error: string | null; busy: boolean; atLimit: boolean;
  onUrl: (v: string) => void; onEvent: (type: WebhookEventType, on: boolean) => void; onDescription: (v: string) => void;
  onSubmit: (ev: FormEvent) => void;
}

/** The registration form as it shows: the URL's problem (ours or the API's words) right under the URL field. */
export function WebhookFormView(p: WebhookFormViewProps) {
  const { t } = useApp();
  const urlProblem = p.problems.includes("url.required") ? t("webhooks.problem.url.required") : p.urlError;
  const showLimit = p.atLimit || p.limitError !== null;
  return (
    <section>
      <h2>{t("webhooks.register")}</h2>
      <form onSubmit={p.onSubmit} data-testid="webhook-form" noValidate>
        <label htmlFor="webhook-url">{t("webhooks.url")}</label>
        <input
          id="webhook-url" data-testid="webhook-url" type="url" inputMode="url" autoComplete="url" spellCheck={false}
          placeholder="https://example.com/hooks/wins" value={p.url} onChange={(e) => p.onUrl(e.target.value)}
          aria-invalid={urlProblem ? true : undefined} aria-describedby={urlProblem ? "webhook-url-error" : undefined}
        />
        {urlProblem && <p id="webhook-url-error" className="error" role="alert" data-testid="webhook-url-error">{urlProblem}</p>}
        <fieldset aria-describedby={p.problems.includes("events.required") ? "webhook-events-error" : undefined}>
          <legend>{t("webhooks.events")}</legend>
          {WEBHOOK_EVENTS.map((type) => (
            <label key={type} className="check block">
              <input type="checkbox" data-testid={`webhook-event-${type}`} value={type} checked={p.events.includes(type)} onChange={(e) => p.onEvent(type, e.target.checked)} />
              {" "}{t(`webhooks.event.${type}` as Key)}
            </label>
          ))}
          {p.problems.includes("events.required") && <p id="webhook-events-error" className="error" role="alert" data-testid="webhook-events-error">{t("webhooks.problem.events.required")}</p>}
        </fieldset>
        <label htmlFor="webhook-description">{t("webhooks.description")}</label>
        <input id="webhook-description" data-testid="webhook-description" value={p.description} maxLength={500} onChange={(e) => p.onDescription(e.target.value)} />
        {showLimit && (
          <p className="error" role="alert" data-testid="webhook-limit">
            {t("webhooks.limit", { max: MAX_WEBHOOKS })}{p.limitError ? ` (${p.limitError})` : ""}
          </p>
        )}
        <ErrorBox text={p.error} />
        <div className="row">
          <button type="submit" className="primary" data-testid="webhook-submit" disabled={p.busy || p.atLimit}>{t(p.busy ? "webhooks.registering" : "webhooks.submit")}</button>
        </div>
      </form>
    </section>
  );
}

/** The one time the secret is seen: copy it, then dismiss it. */
export function SecretOnce({ webhook, onDone }: { webhook: RegisteredWebhook; onDone: () => void }) {
  const { t } = useApp();
  const [copied, setCopied] = useState<"ok" | "failed" | null>(null);
  const text = useRef<HTMLElement>(null);
  const heading = useRef<HTMLHeadingElement>(null);
  // Moved to, so a keyboard or screen-reader user lands on the secret rather than past it.
  useEffect(() => heading.current?.focus(), [webhook.webhook_id]);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(webhook.secret);
      setCopied("ok");
    } catch {
      // No clipboard permission (or not a secure context): select it so Ctrl+C works.
      const el = text.current;
      if (el) window.getSelection()?.selectAllChildren(el);
      setCopied("failed");
    }
  };
  return (
    <section className="secret" aria-labelledby="webhook-secret-title" data-testid="webhook-secret-box">
      <h2 id="webhook-secret-title" ref={heading} tabIndex={-1}>{t("webhooks.secret.title")}</h2>
      <p><code className="url">{webhook.url}</code></p>
      <p className="warning" data-testid="webhook-secret-note"><strong>{t("webhooks.secret.once")}</strong></p>
      <p><code ref={text} className="secret-text" data-testid="webhook-secret">{webhook.secret}</code></p>
      <div className="row">
        <button type="button" data-testid="webhook-secret-copy" onClick={copy}>{t("webhooks.secret.copy")}</button>
        <button type="button" data-testid="webhook-secret-done" onClick={onDone}>{t("webhooks.secret.done")}</button>
      </div>
      {copied === "ok" && <Notice>{t("webhooks.secret.copied")}</Notice>}
      {copied === "failed" && <p className="warning" role="status">{t("webhooks.secret.copyfailed")}</p>}
    </section>
  );
}

function Deliveries({ webhook, onClose }: { webhook: Webhook; onClose: () => void }) {
  const { api, t, lang } = useApp();
  const webhookId = webhook.webhook_id;
  const deliveries = useLoad(
    () => listAll((cursor) => api.GET("/webhooks/{webhook_id}/deliveries", { params: { path: { webhook_id: webhookId }, query: { limit: 200, cursor } } }), undefined, 200),
    [api, webhookId],
  );
  const [busy, setBusy] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);

  const retry = async (d: WebhookDelivery) => {
    if (busy) return;
    setBusy(d.delivery_id);
    setError(null);
    setNotice(null);
    try {
      await ok(api.POST("/webhooks/{webhook_id}/deliveries/{delivery_id}/retry", { params: { path: { webhook_id: webhookId, delivery_id: d.delivery_id } } }));
      setNotice(t("webhooks.delivery.retried"));
      deliveries.reload();
    } catch (e) {
      setError(errorText(lang, e));
    } finally {
      setBusy(null);
    }
  };

  return (
    <section aria-labelledby="deliveries-title" data-testid="deliveries">
      <h2 id="deliveries-title">{t("webhooks.deliveries.of", { url: webhook.url })}</h2>
      <p className="help">{t("webhooks.delivery.help")}</p>
      <div className="row actions">
        <button type="button" data-testid="deliveries-refresh" onClick={deliveries.reload}>{t("common.refresh")}</button>
        <button type="button" data-testid="deliveries-close" onClick={onClose}>{t("webhooks.deliveries.close")}</button>
      </div>
      <ErrorBox text={error ?? deliveries.error} />
      {notice && <Notice>{notice}</Notice>}
      {!deliveries.data ? (deliveries.error ? null : <Loading />) : deliveries.data.length === 0 ? <p>{t("common.none")}</p> : (
        <div className="scroll">
          <table data-testid="deliveries-table">
            <thead>
              <tr>
                <th>{t("webhooks.delivery.type")}</th><th>{t("webhooks.delivery.status")}</th><th>{t("webhooks.delivery.attempts")}</th>
                <th>{t("webhooks.delivery.last")}</th><th>{t("webhooks.delivery.next")}</th><th>{t("webhooks.delivery.created")}</th>
                <th><span className="sr-only">{t("webhooks.delivery.retry")}</span></th>
              </tr>
            </thead>
            <tbody>
              {deliveries.data.map((d) => (
                <tr key={d.delivery_id} data-testid="delivery-row" data-delivery-id={d.delivery_id} data-status={d.status}>
                  <td><code>{d.type}</code></td>
                  <td className={d.status === "FAILED" ? "error" : undefined}>{t(`delivery.${d.status}` as Key)}</td>
                  <td className="num">{d.attempts}</td>
                  <td>
                    {d.last_status_code ?? "—"}
                    {d.last_error && <span className="help block">{d.last_error}</span>}
                  </td>
                  <td>{formatDateTime(lang, d.next_attempt_at)}</td>
                  <td>{formatDateTime(lang, d.created_at)}</td>
                  <td><button type="button" data-testid="delivery-retry" disabled={busy !== null} onClick={() => retry(d)}>{t("webhooks.delivery.retry")}</button></td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

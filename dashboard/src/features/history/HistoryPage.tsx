import { useState } from "react";
import { ErrorBox, Loading, Notice } from "../../components";
import { errorText, useApp } from "../../hooks/context";
import { useLoad } from "../../hooks";
import { listAll } from "../../lib/api";
import { cancelSend, getSend, listRecipients, listSends, resendFailed, resendOne, submitDraft, type RecipientStatus, type SendKind } from "./api";
import { formatDate, formatDateTime, type Key } from "../../lib/i18n";
import { toCsv } from "../../lib/recipients";

/** A send's kind as the catalogue names it: the gift, or its notification channel. */
function kindLabel(t: (key: Key) => string, kind: SendKind, channel?: string | null): string {
  return kind === "gift" ? t("kind.gift") : t(`kind.${channel ?? "sms"}` as Key);
}

export function HistoryPage({ route }: { route: string }) {
  const m = /^\/history\/(gift|notification)\/(.+)$/.exec(route);
  return m ? <SendDetail kind={m[1] as SendKind} sendId={decodeURIComponent(m[2])} /> : <SendList />;
}

function SendList() {
  const { api, t, lang } = useApp();
  const [promotionId, setPromotionId] = useState("");
  const promotions = useLoad(() => listAll((cursor) => api.GET("/promotions", { params: { query: { limit: 200, cursor } } })), [api]);
  const sends = useLoad(async () => {
    const [g, n] = await listSends(api, promotionId);
    return [...g.map((s) => ({ ...s, kind: "gift" as const })), ...n.map((s) => ({ ...s, kind: "notification" as const }))].sort((a, b) => b.created_at.localeCompare(a.created_at));
  }, [api, promotionId]);
  const names = new Map((promotions.data ?? []).map((p) => [p.promotion_id, p.name]));
  return (
    <>
      <h1>{t("nav.history")}</h1>
      <label htmlFor="history-promotion">{t("history.promotion")}</label>
      <select id="history-promotion" data-testid="history-promotion" value={promotionId} onChange={(e) => setPromotionId(e.target.value)}>
        <option value="">{t("history.all")}</option>
        {promotions.data?.map((p) => <option key={p.promotion_id} value={p.promotion_id}>{p.name}</option>)}
      </select>
      <button type="button" onClick={sends.reload} data-testid="history-refresh">{t("common.refresh")}</button>
      <ErrorBox text={sends.error} />
      {!sends.data ? <Loading /> : sends.data.length === 0 ? <p>{t("common.none")}</p> : (
        <div className="scroll">
          <table data-testid="history-sends">
            <thead><tr><th>{t("history.kind")}</th><th>{t("history.promotion")}</th><th>{t("history.status")}</th><th>{t("history.counts")}</th><th>{t("history.created")}</th><th>{t("history.sendat")}</th></tr></thead>
            <tbody>
              {sends.data.map((s) => (
                <tr key={s.send_id} data-testid="history-send-row">
                  <td><a href={`#/history/${s.kind}/${encodeURIComponent(s.send_id)}`} data-testid={`history-open-${s.send_id}`}>{kindLabel(t, s.kind, s.channel)}{s.origin === "AUTO" ? ` ${t("history.auto")}` : ""}</a></td>
                  <td>{names.get(s.promotion_id) ?? s.promotion_id}</td>
                  <td>{s.status}</td>
                  <td>{s.counts.sent} / {s.counts.failed} / {s.counts.pending}</td>
                  <td>{formatDateTime(lang, s.created_at)}</td>
                  <td>{s.send_at ? formatDateTime(lang, s.send_at) : "—"}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}

function SendDetail({ kind, sendId }: { kind: SendKind; sendId: string }) {
  const { api, t, lang } = useApp();
  const [filter, setFilter] = useState<RecipientStatus | "">("");
  const [progress, setProgress] = useState(0);
  const [notice, setNotice] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const send = useLoad(() => getSend(api, kind, sendId), [api, kind, sendId]);
  const recipients = useLoad(() => listRecipients(api, kind, sendId, filter, setProgress), [api, kind, sendId, filter]);
  const reload = () => { send.reload(); recipients.reload(); };

  const act = async (fn: () => Promise<string | null>) => {
    if (busy) return;
    setBusy(true);
    setError(null);
    setNotice(null);
    try {
      setNotice(await fn());
      reload();
    } catch (e) {
      setError(errorText(lang, e));
    } finally {
      setBusy(false);
    }
  };
  const resend = (channels: ("sms" | "lms" | "email" | null)[]) =>
    act(async () => {
      let n = 0;
      for (const c of channels) n += await resendFailed(api, kind, sendId, c);
      return t("history.resent", { n });
    });

  const exportCsv = () => {
    const rows = recipients.data ?? [];
    const csv = toCsv(
      ["recipient_id", "name", "phone", "email", "channel", "status", "failure_reason", "attempts", "sent_at", "delivered_at", "coupon_expires_on"],
      rows.map((r) => [r.recipient_id, r.name, r.phone, r.email ?? "", r.channel ?? "", r.status, r.failure_reason, r.attempts, r.sent_at, r.delivered_at ?? "", r.coupon?.expires_on ?? ""]),
    );
    const url = URL.createObjectURL(new Blob([csv], { type: "text/csv;charset=utf-8" }));
    const a = document.createElement("a");
    a.href = url;
    a.download = `${sendId}-recipients.csv`;
    a.click();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  };

  const s = send.data;
  const failedChannels = new Set((recipients.data ?? []).filter((r) => r.resendable).map((r) => r.channel ?? ""));
  const mobile = (["sms", "lms"] as const).filter((c) => failedChannels.has(c));
  return (
    <>
      <p><a href="#/history">← {t("history.back")}</a></p>
      <ErrorBox text={send.error ?? error} />
      {!s ? <Loading /> : (
        <>
          <h1>{kindLabel(t, kind, s.channel)} · <span data-testid="detail-status">{s.status}</span></h1>
          <p data-testid="detail-counts">{t("history.counts")}: {s.counts.sent} / {s.counts.failed} / {s.counts.pending} ({s.counts.total})</p>
          {s.title && <p>{t("send.title")}: {s.title}</p>}
          {s.content && <p className="message">{s.content}</p>}
          <p>{t("history.created")}: {formatDateTime(lang, s.created_at)} · {t("history.sendat")}: {formatDateTime(lang, s.send_at)}</p>
          <div className="row actions">
            {s.status === "DRAFT" && <button type="button" data-testid="detail-submit-draft" disabled={busy} onClick={() => act(async () => { await submitDraft(api, kind, sendId); return null; })}>{t("history.submit")}</button>}
            {(s.status === "DRAFT" || s.status === "SCHEDULED") && <button type="button" data-testid="detail-cancel" disabled={busy} onClick={() => act(async () => { await cancelSend(api, kind, sendId); return null; })}>{t("history.cancel")}</button>}
            {kind === "gift" && s.counts.resendable > 0 && <button type="button" data-testid="resend-failed" disabled={busy} onClick={() => resend([null])}>{t("history.resend.all")}</button>}
            {kind === "notification" && mobile.length > 0 && <button type="button" data-testid="resend-failed-mobile" disabled={busy} onClick={() => resend(mobile)}>{t("history.resend.mobile")}</button>}
            {kind === "notification" && failedChannels.has("email") && <button type="button" data-testid="resend-failed-email" disabled={busy} onClick={() => resend(["email"])}>{t("history.resend.email")}</button>}
            <button type="button" data-testid="export-csv" disabled={!recipients.data} onClick={exportCsv}>{t("history.export")}</button>
            <button type="button" data-testid="detail-refresh" onClick={reload}>{t("common.refresh")}</button>
          </div>
          {notice && <Notice>{notice}</Notice>}
        </>
      )}
      <h2>{t("history.recipients")}</h2>
      <label htmlFor="recipient-filter">{t("history.filter")}</label>
      <select id="recipient-filter" data-testid="recipient-filter" value={filter} onChange={(e) => setFilter(e.target.value as RecipientStatus | "")}>
        <option value="">{t("history.filter.all")}</option>
        <option value="PENDING">PENDING</option>
        <option value="SENT">SENT</option>
        <option value="FAILED">FAILED</option>
      </select>
      {recipients.error && <ErrorBox text={recipients.error} />}
      {recipients.loading && <p role="status" aria-live="polite">{t("history.reading", { n: progress })}</p>}
      {recipients.data && (
        <div className="scroll">
          <table data-testid="recipients-table">
            <thead>
              <tr>
                <th>{t("history.name")}</th><th>{kind === "gift" ? t("history.phone") : `${t("history.phone")} / ${t("history.email")}`}</th>
                {kind === "notification" && <th>{t("history.channel")}</th>}
                <th>{t("history.status")}</th><th>{t("history.reason")}</th><th>{t("history.attempts")}</th><th>{t("history.sentat")}</th>
                <th>{kind === "gift" ? t("history.expires") : t("history.delivered")}</th><th>{t("history.retry")}</th><th></th>
              </tr>
            </thead>
            <tbody>
              {recipients.data.map((r) => (
                <tr key={r.recipient_id} data-testid="recipient-row" data-status={r.status}>
                  <td>{r.name ?? "—"}</td>
                  <td>{r.phone ?? r.email ?? "—"}</td>
                  {kind === "notification" && <td>{(r.channel ?? "").toUpperCase()}</td>}
                  <td>{r.status}</td>
                  <td>{r.failure_reason ?? ""}</td>
                  <td className="num">{r.attempts}</td>
                  <td>{formatDateTime(lang, r.sent_at)}</td>
                  <td>{kind === "gift" ? formatDate(lang, r.coupon?.expires_on) : formatDateTime(lang, r.delivered_at)}</td>
                  <td>{r.next_retry_at ? formatDateTime(lang, r.next_retry_at) : ""}</td>
                  <td>{r.resendable && <button type="button" data-testid={`resend-one-${r.recipient_id}`} disabled={busy} onClick={() => act(async () => { await resendOne(api, kind, sendId, r.recipient_id); return t("history.resent", { n: 1 }); })}>{t("history.resend.one")}</button>}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}

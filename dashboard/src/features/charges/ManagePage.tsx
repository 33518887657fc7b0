import { useRef, useState, type FormEvent } from "react";
import { readSheet } from "read-excel-file/browser";
import { ErrorBox, Loading, Notice } from "../../components";
import { errorText, useApp } from "../../hooks/context";
import { useLoad } from "../../hooks";
import { listAll, newIdempotencyKey, ok, type Schemas } from "../../lib/api";
import { formatCredits, formatDateTime, formatNumber } from "../../lib/i18n";
import { checkMessage } from "../../lib/limits";
import { isPlausibleEmail, normalizeKoreanMobile } from "../../lib/phone";
import { cellsAsText, parseDelimited, type Recipient } from "../../lib/recipients";
import type { Charge, ChannelName, } from "../../lib/types";

export function ManagePage() {
  const { t } = useApp();
  return (
    <>
      <h1>{t("nav.manage")}</h1>
      <PromotionSettings />
      <Charges />
    </>
  );
}

/** Winners need a name and a phone or email; the API checks each address, the file's rows are read as they are. */
function winnersOf(table: string[][]): Recipient[] {
  const out: Recipient[] = [];
  for (const cells of table) {
    const r: Recipient = {};
    for (const c of cells) {
      if (!c) continue;
      if (isPlausibleEmail(c)) r.email ??= c;
      else if (normalizeKoreanMobile(c)) r.phone ??= c;
      else r.name ??= c;
    }
    if ((r.phone || r.email) && r.name) out.push(r);
  }
  return out;
}

function PromotionSettings() {
  const { api, t, lang } = useApp();
  const promotions = useLoad(() => listAll((cursor) => api.GET("/promotions", { params: { query: { limit: 200, cursor } } })), [api]);
  const [id, setId] = useState("");
  const [enabled, setEnabled] = useState(false);
  const [channel, setChannel] = useState<"sms" | "lms" | "auto" | "email">("auto");
  const [title, setTitle] = useState("");
  const [content, setContent] = useState("");
  const [winners, setWinners] = useState<Recipient[]>([]);
  const [notice, setNotice] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);

  const pick = (pid: string) => {
    setId(pid);
    const p = promotions.data?.find((x) => x.promotion_id === pid);
    // The spec gives the stored setting as a free-form object; it is what PUT .../auto-notification took.
    const a = p?.auto_notification as Schemas["AutoNotificationRequest"] | null | undefined;
    setEnabled(a?.enabled ?? false);
    setChannel(a?.channel ?? "auto");
    setTitle(a?.title ?? "");
    setContent(a?.content ?? "");
  };
  const limits = checkMessage(channel, title, content);
  const run = async (fn: () => Promise<string>) => {
    setError(null);
    setNotice(null);
    try {
      setNotice(await fn());
    } catch (e) {
      setError(errorText(lang, e));
    }
  };
  const saveAuto = (ev: FormEvent) => {
    ev.preventDefault();
    void run(async () => {
      await ok(api.PUT("/promotions/{promotion_id}/auto-notification", { params: { path: { promotion_id: id } }, body: { enabled, channel, content, ...(title && channel !== "sms" ? { title } : {}) } }));
      promotions.reload();
      return t("common.saved");
    });
  };
  const onFile = async (file: File | undefined) => {
    if (!file) return;
    try {
      const table = /\.xlsx$/i.test(file.name) ? cellsAsText((await readSheet(file)) as unknown[][]) : parseDelimited(await file.text());
      setWinners(winnersOf(table));
    } catch (e) {
      setError(errorText(lang, e));
    }
  };
  const upload = () =>
    run(async () => {
      let accepted = 0;
      for (let i = 0; i < winners.length; i += 10_000) {
        accepted += (await ok(api.POST("/promotions/{promotion_id}/winners", { params: { path: { promotion_id: id } }, body: { winners: winners.slice(i, i + 10_000).map((w) => ({ ...w, name: w.name ?? "" })) } }))).accepted;
      }
      setWinners([]);
      return t("manage.winners.accepted", { n: formatNumber(lang, accepted) });
    });

  if (!promotions.data) return promotions.error ? <ErrorBox text={promotions.error} /> : <Loading />;
  return (
    <section>
      <h2>{t("manage.promotions")}</h2>
      <label htmlFor="manage-promotion">{t("send.promotion")}</label>
      <select id="manage-promotion" data-testid="manage-promotion" value={id} onChange={(e) => pick(e.target.value)}>
        <option value="">{t("send.promotion.pick")}</option>
        {promotions.data.map((p) => <option key={p.promotion_id} value={p.promotion_id}>{p.name}</option>)}
      </select>
      {id && (
        <>
          <h3>{t("manage.auto")}</h3>
          <form onSubmit={saveAuto} data-testid="auto-form">
            <label className="check"><input type="checkbox" data-testid="auto-enabled" checked={enabled} onChange={(e) => setEnabled(e.target.checked)} /> {t("manage.auto.enabled")}</label>
            <label htmlFor="auto-channel">{t("manage.auto.channel")}</label>
            <select id="auto-channel" data-testid="auto-channel" value={channel} onChange={(e) => setChannel(e.target.value as typeof channel)}>
              <option value="auto">{t("kind.auto")}</option><option value="sms">SMS</option><option value="lms">LMS</option><option value="email">{t("kind.email")}</option>
            </select>
            {channel !== "sms" && (<><label htmlFor="auto-title">{t("send.title")}</label><input id="auto-title" data-testid="auto-title" value={title} onChange={(e) => setTitle(e.target.value)} /></>)}
            <label htmlFor="auto-content">{t("send.content")}</label>
            <textarea id="auto-content" data-testid="auto-content" rows={4} value={content} onChange={(e) => setContent(e.target.value)} />
            <span className={limits.content.used > limits.content.max ? "counter over" : "counter"}>{formatNumber(lang, limits.content.used)} / {formatNumber(lang, limits.content.max)}</span>
            <button type="submit" data-testid="auto-save" disabled={limits.problems.length > 0}>{t("common.save")}</button>
          </form>
          <h3>{t("manage.winners")}</h3>
          <label htmlFor="winners-file">{t("manage.winners.file")}</label>
          <input id="winners-file" data-testid="winners-file" type="file" accept=".csv,.txt,.xlsx" onChange={(e) => onFile(e.target.files?.[0])} />
          {winners.length > 0 && <button type="button" data-testid="winners-upload" onClick={upload}>{t("manage.winners.upload", { n: formatNumber(lang, winners.length) })}</button>}
        </>
      )}
      <ErrorBox text={error} />
      {notice && <Notice>{notice}</Notice>}
    </section>
  );
}

function Charges() {
  const { api, t, lang } = useApp();
  const pricing = useLoad(() => ok(api.GET("/pricing")), [api]);
  const charges = useLoad(() => listAll((cursor) => api.GET("/charges", { params: { query: { limit: 200, cursor } } }), undefined, 200), [api]);
  const [channel, setChannel] = useState<ChannelName>("sms");
  const [quantity, setQuantity] = useState("100");
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const key = useRef<string | null>(null);
  const busy = useRef(false);
  const unit = pricing.data?.notification_unit_credits[channel] ?? 0;
  const q = Math.max(0, Math.floor(Number(quantity) || 0));

  const buy = async (ev: FormEvent) => {
    ev.preventDefault();
    if (busy.current || q <= 0) return;
    busy.current = true;
    key.current ??= newIdempotencyKey();
    setError(null);
    setNotice(null);
    try {
      const c = await ok(api.POST("/charges", { params: { header: { "idempotency-key": key.current } }, body: { channel, quantity: q } }));
      key.current = null;
      setNotice(`${c.channel.toUpperCase()} +${formatNumber(lang, c.quantity)} (${formatCredits(lang, c.credits_spent)})`);
      charges.reload();
    } catch (e) {
      setError(errorText(lang, e));
    } finally {
      busy.current = false;
    }
  };
  const refund = async (c: Charge) => {
    setError(null);
    try {
      const r = await ok(api.POST("/charges/{charge_id}/refund", { params: { path: { charge_id: c.charge_id } } }));
      setNotice(t("manage.charge.refunded", { n: formatCredits(lang, r.credits_refunded) }));
      charges.reload();
    } catch (e) {
      setError(errorText(lang, e));
    }
  };
  const now = Date.now();
  return (
    <section>
      <h2>{t("manage.charges")}</h2>
      <p className="help" data-testid="charge-rule">{t("manage.charge.rule")}</p>
      <form onSubmit={buy} className="row" data-testid="charge-form">
        <label htmlFor="charge-channel">{t("manage.charge.channel")}</label>
        <select id="charge-channel" data-testid="charge-channel" value={channel} onChange={(e) => { key.current = null; setChannel(e.target.value as ChannelName); }}>
          <option value="sms">SMS</option><option value="lms">LMS</option><option value="email">{t("kind.email")}</option>
        </select>
        <label htmlFor="charge-quantity">{t("manage.charge.quantity")}</label>
        <input id="charge-quantity" data-testid="charge-quantity" type="number" min={1} inputMode="numeric" value={quantity} onChange={(e) => { key.current = null; setQuantity(e.target.value); }} />
        <span data-testid="charge-cost">{t("manage.charge.cost", { cost: formatCredits(lang, unit * q), unit: formatCredits(lang, unit) })}</span>
        <button type="submit" data-testid="charge-buy" disabled={q <= 0}>{t("manage.charge.buy")}</button>
      </form>
      <ErrorBox text={error ?? charges.error} />
      {notice && <Notice>{notice}</Notice>}
      {charges.data && (
        <div className="scroll">
          <table data-testid="charges-table">
            <thead><tr><th>{t("manage.charge.bought")}</th><th>{t("manage.charge.channel")}</th><th>{t("manage.charge.quantity")}</th><th>{t("account.delta")}</th><th>{t("manage.charge.status")}</th><th>{t("manage.charge.until")}</th><th></th></tr></thead>
            <tbody>
              {charges.data.map((c) => (
                <tr key={c.charge_id} data-testid="charge-row">
                  <td>{formatDateTime(lang, c.created_at)}</td>
                  <td>{c.channel.toUpperCase()}</td>
                  <td className="num">{formatNumber(lang, c.quantity)}</td>
                  <td className="num">{formatCredits(lang, c.credits_spent)}</td>
                  <td>{c.status}</td>
                  <td>{formatDateTime(lang, c.refundable_until)}</td>
                  <td>{c.status === "ACTIVE" && Date.parse(c.refundable_until) > now && <button type="button" data-testid={`charge-refund-${c.charge_id}`} onClick={() => refund(c)}>{t("manage.charge.refund")}</button>}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

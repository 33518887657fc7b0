import { useEffect, useState, type FormEvent } from "react";
import { ErrorBox, Loading, Notice } from "../../components";
import { errorText, useApp } from "../../hooks/context";
import { useLoad } from "../../hooks";
import { ok } from "../../lib/api";
import { formatCredits, formatDateTime, formatNumber } from "../../lib/i18n";
import type { ChannelName, LedgerEntry } from "../../lib/types";

const CHANNELS: ChannelName[] = ["sms", "lms", "email"];

export function AccountPage() {
  const { api, t, lang } = useApp();
  const account = useLoad(() => ok(api.GET("/account")), [api]);
  const [entries, setEntries] = useState<LedgerEntry[]>([]);
  const [cursor, setCursor] = useState<string | null | undefined>(undefined);
  const [error, setError] = useState<string | null>(null);
  const [alerts, setAlerts] = useState<{ credits: string; sms: string; lms: string; email: string } | null>(null);
  const [saved, setSaved] = useState(false);

  const more = async (c: string | null | undefined) => {
    try {
      const page = await ok(api.GET("/account/ledger", { params: { query: { limit: 50, cursor: c ?? undefined } } }));
      setEntries((prev) => (c ? [...prev, ...page.items] : page.items));
      setCursor(page.next_cursor);
    } catch (e) {
      setError(errorText(lang, e));
    }
  };
  useEffect(() => {
    void more(undefined);
    ok(api.GET("/account/alerts"))
      .then((a) =>
        setAlerts({
          credits: a.credits_below?.toString() ?? "",
          sms: a.counts_below?.sms?.toString() ?? "",
          lms: a.counts_below?.lms?.toString() ?? "",
          email: a.counts_below?.email?.toString() ?? "",
        }),
      )
      .catch((e) => setError(errorText(lang, e)));
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [api]);

  const save = async (ev: FormEvent) => {
    ev.preventDefault();
    if (!alerts) return;
    const num = (s: string) => (s.trim() === "" ? null : Number(s));
    const counts: Partial<Record<ChannelName, number>> = {};
    for (const ch of CHANNELS) {
      const v = num(alerts[ch]);
      if (v !== null) counts[ch] = v;
    }
    setSaved(false);
    try {
      await ok(api.PUT("/account/alerts", { body: { credits_below: num(alerts.credits), counts_below: counts } }));
      setSaved(true);
    } catch (e) {
      setError(errorText(lang, e));
    }
  };

  if (account.error) return <ErrorBox text={account.error} />;
  if (!account.data) return <Loading />;
  const a = account.data;
  return (
    <>
      <h1>{t("account.name")}: {a.name}</h1>
      <p>
        {formatCredits(lang, a.credits)} · SMS {formatNumber(lang, a.notification_balance.sms)} · LMS {formatNumber(lang, a.notification_balance.lms)} · {t("home.email")} {formatNumber(lang, a.notification_balance.email)}
      </p>
      <ErrorBox text={error} />
      <h2>{t("account.alerts")}</h2>
      {alerts && (
        <form onSubmit={save} className="grid" data-testid="alerts-form">
          <label htmlFor="alert-credits">{t("account.alerts.credits")}</label>
          <input id="alert-credits" data-testid="alert-credits" type="number" min={0} inputMode="numeric" value={alerts.credits} onChange={(e) => setAlerts({ ...alerts, credits: e.target.value })} />
          {CHANNELS.map((ch) => (
            <span key={ch} className="contents">
              <label htmlFor={`alert-${ch}`}>{t("account.alerts.count", { channel: ch.toUpperCase() })}</label>
              <input id={`alert-${ch}`} data-testid={`alert-${ch}`} type="number" min={0} inputMode="numeric" value={alerts[ch]} onChange={(e) => setAlerts({ ...alerts, [ch]: e.target.value })} />
            </span>
          ))}
          <p className="help">{t("account.alerts.help")}</p>
          <button type="submit" data-testid="alerts-save">{t("common.save")}</button>
          {saved && <Notice>{t("common.saved")}</Notice>}
        </form>
      )}
      <h2>{t("account.ledger")}</h2>
      <div className="scroll">
        <table data-testid="ledger">
          <thead>
            <tr><th>{t("history.created")}</th><th>{t("account.type")}</th><th>{t("account.delta")}</th><th>{t("account.count")}</th><th>{t("account.quantity")}</th><th>{t("account.reference")}</th></tr>
          </thead>
          <tbody>
            {entries.map((e) => (
              <tr key={e.entry_id}>
                <td>{formatDateTime(lang, e.created_at)}</td>
                <td>{e.type}</td>
                <td className="num">{formatNumber(lang, e.credits_delta)}</td>
                <td>{e.notification_delta ? `${e.notification_delta.channel.toUpperCase()} ${formatNumber(lang, e.notification_delta.count)}` : "—"}</td>
                <td className="num">{formatNumber(lang, e.quantity)}</td>
                <td>{e.reference ?? e.send_id ?? e.charge_id ?? "—"}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {cursor && <button type="button" onClick={() => more(cursor)}>{t("common.more")}</button>}
    </>
  );
}

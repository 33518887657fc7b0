import { ErrorBox, Loading } from "../../components";
import { useApp } from "../../hooks/context";
import { useLoad } from "../../hooks";
import { ok } from "../../lib/api";
import { formatCredits, formatDateTime, formatNumber } from "../../lib/i18n";
import type { ChannelName } from "../../lib/types";

const CHANNELS: ChannelName[] = ["sms", "lms", "email"];

export function HomePage() {
  const { api, t, lang } = useApp();
  const { data, error } = useLoad(
    async () => {
      const [account, alerts, gifts, notes] = await Promise.all([
        ok(api.GET("/account")),
        ok(api.GET("/account/alerts")).catch(() => null),
        ok(api.GET("/gift-sends", { params: { query: { limit: 5 } } })),
        ok(api.GET("/notification-sends", { params: { query: { limit: 5 } } })),
      ]);
      const recent = [...gifts.items.map((s) => ({ ...s, kind: "gift" })), ...notes.items.map((s) => ({ ...s, kind: s.channel ?? "" }))]
        .sort((a, b) => b.created_at.localeCompare(a.created_at))
        .slice(0, 8);
      return { account, alerts, recent };
    },
    [api],
  );
  if (error) return <ErrorBox text={error} />;
  if (!data) return <Loading />;
  const { account, alerts, recent } = data;
  const warnings: string[] = [];
  if (alerts?.credits_below != null && account.credits < alerts.credits_below)
    warnings.push(t("home.low.credits", { value: formatNumber(lang, account.credits), threshold: formatNumber(lang, alerts.credits_below) }));
  else if (account.credits === 0) warnings.push(t("home.empty.credits"));
  for (const ch of CHANNELS) {
    const v = account.notification_balance[ch];
    const th = alerts?.counts_below?.[ch];
    if (th != null && v < th) warnings.push(t("home.low.count", { channel: t(`home.${ch}`), value: formatNumber(lang, v), threshold: formatNumber(lang, th) }));
    else if (v === 0) warnings.push(t("home.empty.count", { channel: t(`home.${ch}`) }));
  }
  if (!account.gift_sending_approved) warnings.push(t("home.approval"));
  return (
    <>
      <h1>{account.name}</h1>
      <section className="cards" aria-label={t("home.credits")}>
        <div className="card" data-testid="home-credits">
          <span>{t("home.credits")}</span>
          <strong>{formatCredits(lang, account.credits)}</strong>
        </div>
        {CHANNELS.map((ch) => (
          <div className="card" key={ch} data-testid={`home-count-${ch}`}>
            <span>{t(`home.${ch}`)}</span>
            <strong>{formatNumber(lang, account.notification_balance[ch])}</strong>
          </div>
        ))}
      </section>
      {warnings.length > 0 && (
        <ul className="warnings" data-testid="home-warnings">
          {warnings.map((w) => (
            <li key={w} className="warning">{w}</li>
          ))}
        </ul>
      )}
      <h2>{t("home.recent")}</h2>
      {recent.length === 0 ? (
        <p>{t("common.none")}</p>
      ) : (
        <div className="scroll">
          <table data-testid="home-recent">
            <thead>
              <tr><th>{t("history.kind")}</th><th>{t("history.status")}</th><th>{t("history.counts")}</th><th>{t("history.created")}</th></tr>
            </thead>
            <tbody>
              {recent.map((s) => (
                <tr key={s.send_id}>
                  <td><a href={`#/history/${s.kind === "gift" ? "gift" : "notification"}/${encodeURIComponent(s.send_id)}`}>{s.kind.toUpperCase()}</a></td>
                  <td>{s.status}</td>
                  <td>{s.counts.sent} / {s.counts.failed} / {s.counts.pending}</td>
                  <td>{formatDateTime(lang, s.created_at)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}

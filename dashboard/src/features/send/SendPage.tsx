import { useMemo, useRef, useState, type FormEvent } from "react";
import { readSheet } from "read-excel-file/browser";
import { Counter, ErrorBox, Notice } from "../../components";
import { errorText, useApp } from "../../hooks/context";
import { useLoad } from "../../hooks";
import { listAll, newIdempotencyKey, ok, type Schemas } from "../../lib/api";
import { eucKrCount } from "../../lib/euckr";
import { formatCredits, formatNumber, koreanLocalNow, koreanLocalToRfc3339, type Key } from "../../lib/i18n";
import { checkMessage, type SendKind } from "../../lib/limits";
import { cellsAsText, checkRecipients, parseDelimited, type RecipientCheck } from "../../lib/recipients";
import type { Estimate, Promotion } from "../../lib/types";

const KINDS: SendKind[] = ["gift", "sms", "lms", "auto", "email"];
type When = "now" | "at" | "draft";

export function SendPage() {
  const { api, t, lang } = useApp();
  const [kind, setKind] = useState<SendKind>("gift");
  const [promotionId, setPromotionId] = useState("");
  const [newPromotion, setNewPromotion] = useState("");
  // Promotions made here, listed (and so selectable) before the list is read again.
  const [created, setCreated] = useState<Promotion[]>([]);
  const [giftId, setGiftId] = useState("");
  const [title, setTitle] = useState("");
  const [content, setContent] = useState("");
  const [pasted, setPasted] = useState("");
  const [table, setTable] = useState<string[][] | null>(null);
  const [when, setWhen] = useState<When>("now");
  const [sendAt, setSendAt] = useState("");
  const [estimate, setEstimate] = useState<Estimate | null>(null);
  const [result, setResult] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const inFlight = useRef(false);
  const keyRef = useRef<string | null>(null);

  const lists = useLoad(async () => {
    const [promotions, gifts, wish] = await Promise.all([
      listAll((cursor) => api.GET("/promotions", { params: { query: { limit: 200, cursor } } })),
      ok(api.GET("/gifts")).then((p) => p.items),
      ok(api.GET("/wishlist")).then((p) => p.items),
    ]);
    const wished = new Set(wish.map((g) => g.gift_id));
    const onSale = gifts.filter((g) => g.status === "ON_SALE").sort((a, b) => Number(wished.has(b.gift_id)) - Number(wished.has(a.gift_id)));
    return { promotions, gifts: onSale, wished };
  }, [api]);

  // Any change to what would be sent is a new submission, with a new idempotency key.
  const changed = <T,>(set: (v: T) => void) => (v: T) => {
    keyRef.current = null;
    setEstimate(null);
    setResult(null);
    set(v);
  };

  const need = kind === "email" ? "email" : "phone";
  const check: RecipientCheck | null = useMemo(() => {
    const source = table ?? (pasted.trim() ? parseDelimited(pasted) : null);
    return source ? checkRecipients(source, need) : null;
  }, [table, pasted, need]);

  const longestName = useMemo(() => {
    let best = "";
    let bestBytes = -1;
    for (const r of check?.recipients ?? []) {
      const b = eucKrCount(r.name ?? "").bytes + (r.name ?? "").length;
      if (b > bestBytes) [best, bestBytes] = [r.name ?? "", b];
    }
    return best;
  }, [check]);
  const limits = checkMessage(kind, kind === "sms" ? "" : title, content, longestName);

  const onFile = async (file: File | undefined) => {
    if (!file) return;
    setError(null);
    try {
      if (/\.xlsx$/i.test(file.name)) setTable(cellsAsText((await readSheet(file)) as unknown[][]));
      else setTable(parseDelimited(await file.text()));
      keyRef.current = null;
      setEstimate(null);
    } catch (e) {
      setError(errorText(lang, e));
    }
  };

  const createPromotion = async () => {
    if (!newPromotion.trim()) return;
    try {
      const p = await ok(api.POST("/promotions", { body: { name: newPromotion.trim() } }));
      setNewPromotion("");
      setCreated((list) => [...list, p]);
      changed(setPromotionId)(p.promotion_id);
    } catch (e) {
      setError(errorText(lang, e));
    }
  };

  const post = (dryRun: boolean, idempotencyKey?: string) => {
    const common = {
      promotion_id: promotionId,
      content,
      recipients: check?.recipients ?? [],
      ...(dryRun ? { dry_run: true } : when === "draft" ? { draft: true } : when === "at" ? { send_at: koreanLocalToRfc3339(sendAt) } : {}),
    };
    const params = { header: idempotencyKey ? { "idempotency-key": idempotencyKey } : {} };
    if (kind === "gift") return api.POST("/gift-sends", { params, body: { ...common, recipients: common.recipients.map((r) => ({ phone: r.phone ?? "", name: r.name })), gift_id: giftId, title } });
    return api.POST("/notification-sends", { params, body: { ...common, channel: kind, ...(title && kind !== "sms" ? { title } : {}) } });
  };
  const loaded = lists.data?.promotions ?? [];
  const promotions = [...loaded, ...created.filter((c) => !loaded.some((p) => p.promotion_id === c.promotion_id))];
  const ready = !!promotionId && (kind !== "gift" || !!giftId) && limits.problems.length === 0 && (check?.recipients.length ?? 0) > 0 && (when !== "at" || !!sendAt);

  const runEstimate = async () => {
    setError(null);
    try {
      setEstimate((await ok<SendAnswer>(post(true))) as Estimate); // a dry run answers an estimate
    } catch (e) {
      setError(errorText(lang, e));
    }
  };

  const submit = async (ev: FormEvent) => {
    ev.preventDefault();
    if (inFlight.current) return; // a double click sends once
    if (!ready) {
      setError(t("send.fix"));
      return;
    }
    inFlight.current = true;
    setBusy(true);
    setError(null);
    keyRef.current ??= newIdempotencyKey();
    try {
      const r = (await ok<SendAnswer>(post(false, keyRef.current))) as Schemas["SendAccepted"];
      setResult(t("send.done", { id: r.send_id, status: r.status, total: formatNumber(lang, r.total), invalid: formatNumber(lang, r.invalid) }));
    } catch (e) {
      setError(errorText(lang, e));
    } finally {
      inFlight.current = false;
      setBusy(false);
    }
  };

  const fieldName = (f: "title" | "content") => t(f === "title" ? "send.title" : "send.content");
  const showTitle = kind !== "sms";

  return (
    <>
      <h1>{t("nav.send")}</h1>
      <form onSubmit={submit} data-testid="send-form" noValidate>
        <fieldset>
          <legend>{t("send.kind")}</legend>
          <div className="radios">
            {KINDS.map((k) => (
              <label key={k}>
                <input type="radio" name="kind" value={k} checked={kind === k} data-testid={`send-kind-${k}`} onChange={() => changed(setKind)(k)} />
                {t(`kind.${k}` as Key)}
              </label>
            ))}
          </div>
        </fieldset>

        <label htmlFor="send-promotion">{t("send.promotion")}</label>
        <select id="send-promotion" data-testid="send-promotion" value={promotionId} onChange={(e) => changed(setPromotionId)(e.target.value)}>
          <option value="">{t("send.promotion.pick")}</option>
          {promotions.map((p) => (
            <option key={p.promotion_id} value={p.promotion_id}>{p.name}</option>
          ))}
        </select>
        <div className="row">
          <label htmlFor="send-new-promotion" className="sr-only">{t("send.promotion.new")}</label>
          <input id="send-new-promotion" data-testid="send-new-promotion" placeholder={t("send.promotion.new")} value={newPromotion} onChange={(e) => setNewPromotion(e.target.value)} />
          <button type="button" data-testid="send-create-promotion" onClick={createPromotion}>{t("send.promotion.create")}</button>
        </div>

        {kind === "gift" && (
          <>
            <label htmlFor="send-gift">{t("send.gift")}</label>
            <select id="send-gift" data-testid="send-gift" value={giftId} onChange={(e) => changed(setGiftId)(e.target.value)}>
              <option value="">{t("send.gift.pick")}</option>
              {lists.data?.gifts.map((g) => (
                <option key={g.gift_id} value={g.gift_id}>
                  {lists.data!.wished.has(g.gift_id) ? `${t("send.gift.wish")} · ` : ""}{g.name} ({g.brand}) — {formatCredits(lang, g.price)}
                </option>
              ))}
            </select>
          </>
        )}

        {showTitle && (
          <>
            <label htmlFor="send-title">{t("send.title")}</label>
            <input id="send-title" data-testid="send-title" value={title} aria-describedby="send-title-count" onChange={(e) => changed(setTitle)(e.target.value)} />
            {limits.title && <Counter m={limits.title} id="send-title-count" />}
          </>
        )}
        <label htmlFor="send-content">{t("send.content")}</label>
        <textarea id="send-content" data-testid="send-content" rows={6} value={content} aria-describedby="send-content-count" onChange={(e) => changed(setContent)(e.target.value)} />
        <Counter m={limits.content} id="send-content-count" />
        {kind !== "gift" && content.includes("{name}") && <p className="help">{t("send.name.hint")}</p>}
        {limits.autoChannel && <p className="help" data-testid="send-auto-channel">{t("send.auto.as", { channel: limits.autoChannel.toUpperCase() })}</p>}
        {limits.suggestLms && (
          <p className="warning" data-testid="send-suggest-lms">
            {t("send.switch.lms")}{" "}
            <button type="button" data-testid="send-switch-lms" onClick={() => changed(setKind)("lms")}>{t("send.switch.do")}</button>
          </p>
        )}
        {limits.problems.length > 0 && (title || content) && (
          <ul className="problems" data-testid="send-problems">
            {limits.problems.map((p, i) => (
              <li key={i} className="error">{t(`problem.${p.kind}` as Key, { field: fieldName(p.field), chars: (p.chars ?? []).join(" ") })}</li>
            ))}
          </ul>
        )}

        <fieldset>
          <legend>{t("send.recipients")}</legend>
          <label htmlFor="send-paste">{t("send.recipients.paste")}</label>
          <textarea id="send-paste" data-testid="send-recipients-paste" rows={4} value={pasted} onChange={(e) => { setTable(null); changed(setPasted)(e.target.value); }} />
          <label htmlFor="send-file">{t("send.recipients.file")}</label>
          <input id="send-file" data-testid="send-recipients-file" type="file" accept=".csv,.txt,.xlsx,text/csv,application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" onChange={(e) => onFile(e.target.files?.[0])} />
          {check && (
            <div data-testid="send-recipient-report">
              <p className={check.problems ? "warning" : "notice"} data-testid="send-recipient-summary">
                {t("send.recipients.summary", { valid: formatNumber(lang, check.recipients.length), problems: formatNumber(lang, check.problems) })}
              </p>
              {check.problems > 0 && (
                <div className="scroll">
                  <table>
                    <thead><tr><th>{t("send.report.line")}</th><th>{t("send.report.row")}</th><th>{t("send.report.issue")}</th></tr></thead>
                    <tbody>
                      {check.rows.filter((r) => r.issue).slice(0, 200).map((r) => (
                        <tr key={r.line} data-testid="send-report-row">
                          <td>{r.line}</td>
                          <td>{r.cells.join(", ")}</td>
                          <td>{t(`issue.${r.issue}` as Key)}</td>
                        </tr>
                      ))}
                    </tbody>
                  </table>
                </div>
              )}
            </div>
          )}
        </fieldset>

        <fieldset>
          <legend>{t("send.when")}</legend>
          <div className="radios">
            {(["now", "at", "draft"] as When[]).map((w) => (
              <label key={w}>
                <input type="radio" name="when" value={w} checked={when === w} data-testid={`send-when-${w}`} onChange={() => changed(setWhen)(w)} />
                {t(`when.${w}` as Key)}
              </label>
            ))}
          </div>
          {when === "at" && (
            <>
              <label htmlFor="send-at">{t("send.at")}</label>
              <input id="send-at" data-testid="send-at" type="datetime-local" min={koreanLocalNow()} value={sendAt} onChange={(e) => changed(setSendAt)(e.target.value)} />
            </>
          )}
        </fieldset>

        <div className="row">
          <button type="button" data-testid="send-estimate" disabled={!ready} onClick={runEstimate}>{t("send.estimate")}</button>
          <button type="submit" className="primary" data-testid="send-submit" disabled={busy}>
            {busy ? t("send.sending") : t(when === "draft" ? "send.submit.draft" : when === "at" ? "send.submit.schedule" : "send.submit")}
          </button>
        </div>
        {estimate && <EstimateView e={estimate} />}
        <ErrorBox text={error} />
        {result && <Notice><span data-testid="send-result">{result}</span> <a href="#/history">{t("nav.history")}</a></Notice>}
      </form>
    </>
  );
}

type SendAnswer = Schemas["SendAccepted"] | Estimate;

function EstimateView({ e }: { e: Estimate }) {
  const { t, lang } = useApp();
  const n = (v: unknown) => formatNumber(lang, Number(v ?? 0));
  if ("estimated_credits" in e) {
    const shortfall = Number(e.shortfall ?? 0);
    return (
      <div data-testid="send-estimate-result">
        <p>{t("send.estimate.result", { valid: n(e.valid), total: n(e.total), cost: formatCredits(lang, Number(e.estimated_credits ?? 0)), available: formatCredits(lang, Number(e.available_credits ?? 0)) })}</p>
        {shortfall > 0 && <p className="warning" data-testid="send-shortfall">{t("send.shortfall", { shortfall: formatCredits(lang, shortfall) })}</p>}
      </div>
    );
  }
  const needed = (e.counts_needed ?? {}) as Record<string, number>;
  const available = (e.available_counts ?? {}) as Record<string, number>;
  const short = (e.shortfall ?? {}) as Record<string, number>;
  const channels = Object.keys(needed).filter((c) => needed[c] > 0);
  return (
    <div data-testid="send-estimate-result">
      {channels.map((c) => (
        <p key={c}>{t("send.estimate.counts", { valid: n(needed[c]), total: n(e.total), channel: c.toUpperCase(), available: n(available[c]) })}</p>
      ))}
      {Object.entries(short).filter(([, v]) => v > 0).map(([c, v]) => (
        <p key={c} className="warning" data-testid="send-shortfall">{t("send.shortfall", { shortfall: `${c.toUpperCase()} ${n(v)}` })}</p>
      ))}
    </div>
  );
}

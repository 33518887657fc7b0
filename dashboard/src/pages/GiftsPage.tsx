import { useState } from "react";
import { ErrorBox, Loading } from "../components";
import { errorText, useApp } from "../context";
import { useLoad } from "../hooks";
import { listAll } from "../lib/api";
import { formatCredits, type Key } from "../lib/i18n";
import type { Gift } from "../lib/types";

export function GiftsPage() {
  const { api, t, lang } = useApp();
  const [error, setError] = useState<string | null>(null);
  const { data, error: loadError, reload } = useLoad(
    async () => {
      const [gifts, wish] = await Promise.all([listAll<Gift>(api, "/gifts"), listAll<Gift>(api, "/wishlist")]);
      return { gifts, wished: new Set(wish.map((g) => g.gift_id)) };
    },
    [api],
  );
  if (loadError) return <ErrorBox text={loadError} />;
  if (!data) return <Loading />;
  const toggle = async (g: Gift) => {
    setError(null);
    try {
      await api(data.wished.has(g.gift_id) ? "DELETE" : "PUT", `/wishlist/${encodeURIComponent(g.gift_id)}`);
      reload();
    } catch (e) {
      setError(errorText(lang, e));
    }
  };
  const sorted = [...data.gifts].sort((a, b) => Number(data.wished.has(b.gift_id)) - Number(data.wished.has(a.gift_id)));
  return (
    <>
      <h1>{t("gifts.title")}</h1>
      <ErrorBox text={error} />
      <ul className="gifts" data-testid="gift-list">
        {sorted.map((g) => {
          const wished = data.wished.has(g.gift_id);
          return (
            <li key={g.gift_id} className="card" data-testid={`gift-${g.gift_id}`}>
              <strong>{g.name}</strong>
              <span>{g.brand}</span>
              <span>{formatCredits(lang, g.price)}</span>
              <span>{t(`status.${g.status}` as Key)} · {t("gifts.validity", { n: g.validity_days })}</span>
              <button type="button" aria-pressed={wished} data-testid={`wishlist-toggle-${g.gift_id}`} onClick={() => toggle(g)}>
                {wished ? `★ ${t("gifts.remove")}` : `☆ ${t("gifts.add")}`}
              </button>
            </li>
          );
        })}
      </ul>
    </>
  );
}

import { useState } from "react";
import { ErrorBox, Loading } from "../../components";
import { errorText, useApp } from "../../hooks/context";
import { useLoad } from "../../hooks";
import { ok } from "../../lib/api";
import { formatCredits, type Key } from "../../lib/i18n";
import type { Gift } from "../../lib/types";

export function GiftsPage() {
  const { api, t, lang } = useApp();
  const [error, setError] = useState<string | null>(null);
  const { data, error: loadError, reload } = useLoad(
    async () => {
      const [gifts, wish] = await Promise.all([ok(api.GET("/gifts")).then((p) => p.items), ok(api.GET("/wishlist")).then((p) => p.items)]);
      return { gifts, wished: new Set(wish.map((g) => g.gift_id)) };
    },
    [api],
  );
  if (loadError) return <ErrorBox text={loadError} />;
  if (!data) return <Loading />;
  const toggle = async (g: Gift) => {
    setError(null);
    try {
      const path = { params: { path: { gift_id: g.gift_id } } };
      await ok(data.wished.has(g.gift_id) ? api.DELETE("/wishlist/{gift_id}", path) : api.PUT("/wishlist/{gift_id}", path));
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
              <span>{t(`status.${g.status}` as Key)} · {t("gifts.validity", { n: g.validity_days ?? 0 })}</span>
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

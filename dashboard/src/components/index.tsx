import type { ReactNode } from "react";
import { useApp } from "../hooks/context";
import type { Measure } from "../lib/limits";

export function Loading() {
  const { t } = useApp();
  return <p role="status" aria-live="polite">{t("common.loading")}</p>;
}

export function ErrorBox({ text }: { text: string | null }) {
  return text ? <p className="error" role="alert">{text}</p> : null;
}

export function Notice({ children }: { children: ReactNode }) {
  return <p className="notice" role="status">{children}</p>;
}

export function Counter({ m, id }: { m: Measure; id: string }) {
  const { t, lang } = useApp();
  const fmt = (n: number) => new Intl.NumberFormat(lang === "ko" ? "ko-KR" : "en-US").format(n);
  const text = t(m.unit === "bytes" ? "send.count.bytes" : "send.count.chars", { used: fmt(m.used), max: fmt(m.max) });
  return (
    <span id={id} className={m.used > m.max ? "counter over" : "counter"} data-testid={`${id}`} aria-live="polite">
      {text}
    </span>
  );
}

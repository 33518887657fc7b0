import { createContext, useContext } from "react";
import type { ApiClient } from "../lib/api";
import { ApiError } from "../lib/api";
import type { Key, Lang } from "../lib/i18n";
import { translate } from "../lib/i18n";

export interface AppContext {
  lang: Lang;
  t: (key: Key, vars?: Record<string, string | number>) => string;
  api: ApiClient;
}

export const Ctx = createContext<AppContext | null>(null);

export function useApp(): AppContext {
  const c = useContext(Ctx);
  if (!c) throw new Error("no app context");
  return c;
}

/** A person-readable message for a failed call. */
export function errorText(lang: Lang, e: unknown): string {
  if (e instanceof ApiError) {
    if (e.code === "NETWORK") return translate(lang, "error.network");
    const key = `error.${e.code}` as Key;
    const known = translate(lang, key, { msg: e.message });
    if (known !== key) return known;
    return translate(lang, "common.error", { msg: e.message });
  }
  return translate(lang, "common.error", { msg: e instanceof Error ? e.message : String(e) });
}

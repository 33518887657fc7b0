/** The runtime configuration, `config.json` next to index.html (written by the deployment). */
export interface Config {
  apiUrl: string;
  cognito: { endpoint: string; region: string; userPoolId: string; clientId: string; tokenUse?: "id" | "access" };
  demo?: Record<string, unknown>;
}

export function parseConfig(raw: unknown): Config {
  const c = raw as Partial<Config> | null;
  if (!c || typeof c.apiUrl !== "string" || !c.cognito || typeof c.cognito.endpoint !== "string" || typeof c.cognito.clientId !== "string") {
    throw new Error("config.json lacks apiUrl or cognito.endpoint/clientId");
  }
  return { ...c, apiUrl: c.apiUrl.replace(/\/+$/, "") } as Config;
}

export async function loadConfig(): Promise<Config> {
  const res = await fetch("config.json", { cache: "no-store" });
  if (!res.ok) throw new Error(`config.json: HTTP ${res.status}`);
  return parseConfig(await res.json());
}

/** The public API, called with the signed-in user's token. A 401 (or an expired token) ends the session. */
export class ApiError extends Error {
  constructor(
    public readonly status: number,
    public readonly code: string,
    message: string,
    public readonly details: unknown[] = [],
  ) {
    super(message);
  }
}

export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

export type Fetcher = <T>(method: string, path: string, body?: unknown, headers?: Record<string, string>) => Promise<T>;

export function createApi(baseUrl: string, token: () => string | null, onUnauthorized: () => void): Fetcher {
  return async function request<T>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
    const t = token();
    if (!t) {
      onUnauthorized();
      throw new ApiError(401, "UNAUTHORIZED", "session ended");
    }
    let res: Response;
    try {
      res = await fetch(baseUrl + path, {
        method,
        headers: { Authorization: `Bearer ${t}`, ...(body !== undefined ? { "Content-Type": "application/json" } : {}), ...headers },
        body: body !== undefined ? JSON.stringify(body) : undefined,
      });
    } catch {
      throw new ApiError(0, "NETWORK", "network");
    }
    if (res.status === 401) {
      onUnauthorized();
      throw new ApiError(401, "UNAUTHORIZED", "session ended");
    }
    if (res.status === 204) return undefined as T;
    const data = (await res.json().catch(() => null)) as Record<string, unknown> | null;
    if (!res.ok) {
      throw new ApiError(res.status, String(data?.code ?? "ERROR"), String(data?.message ?? `HTTP ${res.status}`), (data?.details as unknown[]) ?? []);
    }
    return data as T;
  };
}

/** Every page of a list, `onProgress` told the count so far (large sends have many recipients). */
export async function listAll<T>(api: Fetcher, path: string, onProgress?: (n: number) => void, cap = 20_000): Promise<T[]> {
  const out: T[] = [];
  let cursor: string | null = null;
  const sep = path.includes("?") ? "&" : "?";
  do {
    const page: Page<T> = await api<Page<T>>("GET", `${path}${sep}limit=200${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
    out.push(...page.items);
    onProgress?.(out.length);
    cursor = page.next_cursor;
  } while (cursor && out.length < cap);
  return out;
}

/** A fresh key for one form submission. */
export function newIdempotencyKey(): string {
  return crypto.randomUUID();
}

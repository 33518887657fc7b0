/**
 * The one API client: openapi-fetch typed by `schema.d.ts`, which openapi-typescript generates from
 * docs/openapi.json (`npm run api:types`). Paths, parameters, bodies and answers all come from the spec, so
 * a renamed field fails `tsc`. Calls carry the signed-in user's token; a 401 (or an expired token) ends
 * the session.
 */
import createClient, { type Middleware } from "openapi-fetch";
import type { components, paths } from "./schema";

export type Schemas = components["schemas"];
export type ApiClient = ReturnType<typeof createClient<paths>>;

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

export function createApi(baseUrl: string, token: () => string | null, onUnauthorized: () => void, fetchImpl: typeof fetch = (...a) => fetch(...a)): ApiClient {
  const client = createClient<paths>({
    baseUrl,
    fetch: async (req: Request) => {
      try {
        return await fetchImpl(req);
      } catch {
        throw new ApiError(0, "NETWORK", "network");
      }
    },
  });
  const auth: Middleware = {
    onRequest({ request }) {
      const t = token();
      if (!t) {
        onUnauthorized();
        throw new ApiError(401, "UNAUTHORIZED", "session ended");
      }
      request.headers.set("Authorization", `Bearer ${t}`);
      return request;
    },
    onResponse({ response }) {
      if (response.status === 401) {
        onUnauthorized();
        throw new ApiError(401, "UNAUTHORIZED", "session ended");
      }
      return response;
    },
  };
  client.use(auth);
  return client;
}

interface Answer<T> {
  data?: T;
  error?: unknown;
  response: Response;
}

/** The answer's body, or an ApiError built from the API's `{code, message, details}` refusal. */
export async function ok<T>(call: Promise<Answer<T>>): Promise<T> {
  const { data, error, response } = await call;
  if (error !== undefined || !response.ok) {
    const e = (error ?? {}) as { code?: unknown; message?: unknown; details?: unknown };
    throw new ApiError(response.status, String(e.code ?? "ERROR"), String(e.message ?? `HTTP ${response.status}`), Array.isArray(e.details) ? e.details : []);
  }
  return data as T;
}

interface PageOf<T> {
  items: T[];
  next_cursor?: string | null;
}

/** Every page of a list, `onProgress` told the count so far (large sends have many recipients). */
export async function listAll<T>(page: (cursor: string | undefined) => Promise<Answer<PageOf<T>>>, onProgress?: (n: number) => void, cap = 20_000): Promise<T[]> {
  const out: T[] = [];
  let cursor: string | null | undefined;
  do {
    const p: PageOf<T> = await ok(page(cursor ?? undefined));
    out.push(...p.items);
    onProgress?.(out.length);
    cursor = p.next_cursor;
  } while (cursor && out.length < cap);
  return out;
}

/** A fresh key for one form submission. */
export function newIdempotencyKey(): string {
  return crypto.randomUUID();
}

/**
 * Sign-in against Cognito's public JSON API (no SDK): InitiateAuth with USER_PASSWORD_AUTH, and
 * RespondToAuthChallenge for NEW_PASSWORD_REQUIRED (the first sign-in with a temporary password).
 * The session (token and its expiry) lives in sessionStorage: it ends with the tab.
 */
import type { Config } from "./config";

const STORAGE_KEY = "wn.session";

export interface Session {
  token: string;
  expiresAt: number; // epoch ms
  email: string;
}

export type SignInResult =
  | { kind: "signed_in"; session: Session }
  | { kind: "new_password"; challengeSession: string; email: string };

export class AuthError extends Error {
  constructor(
    public readonly type: string,
    message: string,
  ) {
    super(message);
  }
  get wrongPassword(): boolean {
    return this.type === "NotAuthorizedException" || this.type === "UserNotFoundException";
  }
}

async function call(config: Config, target: string, body: unknown): Promise<Record<string, unknown>> {
  const res = await fetch(config.cognito.endpoint, {
    method: "POST",
    headers: {
      "Content-Type": "application/x-amz-json-1.1",
      "X-Amz-Target": `AWSCognitoIdentityProviderService.${target}`,
    },
    body: JSON.stringify(body),
  });
  const data = (await res.json().catch(() => ({}))) as Record<string, unknown>;
  if (!res.ok) {
    const type = String(data.__type ?? data.code ?? "Error").split("#").pop()!;
    throw new AuthError(type, String(data.message ?? data.Message ?? `HTTP ${res.status}`));
  }
  return data;
}

/** The `exp` claim of a JWT, in epoch ms (the token is not verified here; the API does that). */
export function tokenExpiry(token: string): number | null {
  try {
    const payload = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const json = JSON.parse(atob(payload.padEnd(payload.length + ((4 - (payload.length % 4)) % 4), "="))) as { exp?: number };
    return typeof json.exp === "number" ? json.exp * 1000 : null;
  } catch {
    return null;
  }
}

function sessionFrom(config: Config, email: string, result: Record<string, unknown>): Session {
  const r = result as { IdToken?: string; AccessToken?: string; ExpiresIn?: number };
  const token = (config.cognito.tokenUse === "access" ? r.AccessToken : r.IdToken) ?? "";
  if (!token) throw new AuthError("NoToken", "Cognito returned no token");
  const expiresAt = tokenExpiry(token) ?? Date.now() + (r.ExpiresIn ?? 3600) * 1000;
  return { token, expiresAt, email };
}

export async function signIn(config: Config, email: string, password: string): Promise<SignInResult> {
  const data = await call(config, "InitiateAuth", {
    AuthFlow: "USER_PASSWORD_AUTH",
    ClientId: config.cognito.clientId,
    AuthParameters: { USERNAME: email, PASSWORD: password },
  });
  if (data.ChallengeName === "NEW_PASSWORD_REQUIRED") {
    return { kind: "new_password", challengeSession: String(data.Session), email };
  }
  if (data.AuthenticationResult) {
    return { kind: "signed_in", session: sessionFrom(config, email, data.AuthenticationResult as Record<string, unknown>) };
  }
  throw new AuthError(String(data.ChallengeName ?? "Unsupported"), `unsupported sign-in step ${String(data.ChallengeName)}`);
}

export async function setNewPassword(config: Config, email: string, challengeSession: string, newPassword: string): Promise<Session> {
  const data = await call(config, "RespondToAuthChallenge", {
    ChallengeName: "NEW_PASSWORD_REQUIRED",
    ClientId: config.cognito.clientId,
    Session: challengeSession,
    ChallengeResponses: { USERNAME: email, NEW_PASSWORD: newPassword },
  });
  if (!data.AuthenticationResult) throw new AuthError("NoToken", "Cognito returned no token");
  return sessionFrom(config, email, data.AuthenticationResult as Record<string, unknown>);
}

export function storeSession(s: Session | null): void {
  if (s) sessionStorage.setItem(STORAGE_KEY, JSON.stringify(s));
  else sessionStorage.removeItem(STORAGE_KEY);
}

export function storedSession(now = Date.now()): Session | null {
  try {
    const s = JSON.parse(sessionStorage.getItem(STORAGE_KEY) ?? "null") as Session | null;
    return s && s.token && s.expiresAt > now ? s : null;
  } catch {
    return null;
  }
}

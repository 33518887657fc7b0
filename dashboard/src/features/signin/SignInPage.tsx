import { useState, type FormEvent } from "react";
import { useApp } from "../../hooks/context";
import { AuthError, setNewPassword, signIn, type Session } from "../../lib/auth";
import type { Config } from "../../lib/config";
import type { Key } from "../../lib/i18n";

export function SignInPage({ config, message, onSignedIn }: { config: Config; message: Key | null; onSignedIn: (s: Session) => void }) {
  const { t } = useApp();
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [challenge, setChallenge] = useState<string | null>(null);
  const [newPassword, setNewPasswordText] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const failed = (e: unknown) => {
    if (e instanceof AuthError && e.wrongPassword && !challenge) setError(t("signin.wrong"));
    else setError(t("signin.failed", { msg: e instanceof Error ? e.message : String(e) }));
  };

  const submit = async (ev: FormEvent) => {
    ev.preventDefault();
    if (busy) return;
    setBusy(true);
    setError(null);
    try {
      if (challenge) {
        onSignedIn(await setNewPassword(config, email.trim(), challenge, newPassword));
      } else {
        const r = await signIn(config, email.trim(), password);
        if (r.kind === "signed_in") onSignedIn(r.session);
        else setChallenge(r.challengeSession);
      }
    } catch (e) {
      failed(e);
    } finally {
      setBusy(false);
    }
  };

  return (
    <main className="page signin">
      <h1>{challenge ? t("signin.newpassword") : t("signin.title")}</h1>
      {message && !error && <p className={message === "signin.expired" ? "error" : "notice"} role="status" data-testid="signin-message">{t(message)}</p>}
      <form onSubmit={submit} data-testid="signin-form">
        {!challenge ? (
          <>
            <label htmlFor="signin-email">{t("signin.email")}</label>
            <input id="signin-email" data-testid="signin-email" type="email" autoComplete="username" required value={email} onChange={(e) => setEmail(e.target.value)} />
            <label htmlFor="signin-password">{t("signin.password")}</label>
            <input id="signin-password" data-testid="signin-password" type="password" autoComplete="current-password" required value={password} onChange={(e) => setPassword(e.target.value)} />
          </>
        ) : (
          <>
            <p>{t("signin.newpassword.help")}</p>
            <label htmlFor="signin-new-password">{t("signin.newpassword")}</label>
            <input id="signin-new-password" data-testid="signin-new-password" type="password" autoComplete="new-password" minLength={8} required value={newPassword} onChange={(e) => setNewPasswordText(e.target.value)} />
          </>
        )}
        {error && <p className="error" role="alert" data-testid="signin-error">{error}</p>}
        <button type="submit" data-testid="signin-submit" disabled={busy}>
          {challenge ? t("signin.newpassword.submit") : t("signin.submit")}
        </button>
      </form>
    </main>
  );
}

import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { Ctx, type AppContext } from "../hooks/context";
import { Link, useLocation, useNavigate } from "react-router";
import { createApi } from "../lib/api";
import { storeSession, storedSession, type Session } from "../lib/auth";
import { loadConfig, type Config } from "../lib/config";
import { initialLang, rememberLang, translate, type Key, type Lang } from "../lib/i18n";
import { AccountPage } from "../features/account/AccountPage";
import { GiftsPage } from "../features/gifts/GiftsPage";
import { HistoryPage } from "../features/history/HistoryPage";
import { HomePage } from "../features/home/HomePage";
import { ManagePage } from "../features/charges/ManagePage";
import { SendPage } from "../features/send/SendPage";
import { SignInPage } from "../features/signin/SignInPage";
import { WebhooksPage } from "../features/webhooks/WebhooksPage";

const NAV: [string, Key][] = [
  ["/", "nav.home"],
  ["/send", "nav.send"],
  ["/history", "nav.history"],
  ["/gifts", "nav.gifts"],
  ["/manage", "nav.manage"],
  ["/account", "nav.account"],
  ["/webhooks", "nav.webhooks"],
];

export function App() {
  const [lang, setLangState] = useState<Lang>(initialLang);
  const [config, setConfig] = useState<Config | null>(null);
  const [configError, setConfigError] = useState(false);
  const [session, setSession] = useState<Session | null>(() => storedSession());
  const [message, setMessage] = useState<Key | null>(null);
  const sessionRef = useRef(session);
  sessionRef.current = session;
  const location = useLocation();
  const navigate = useNavigate();
  const route = location.pathname + location.search;

  useEffect(() => {
    loadConfig().then(setConfig, () => setConfigError(true));
  }, []);
  useEffect(() => {
    document.documentElement.lang = lang;
  }, [lang]);

  const setLang = (l: Lang) => {
    setLangState(l);
    rememberLang(l);
  };
  const t = useCallback((key: Key, vars?: Record<string, string | number>) => translate(lang, key, vars), [lang]);

  const endSession = useCallback((why: Key) => {
    storeSession(null);
    setSession(null);
    setMessage(why);
  }, []);

  const api = useMemo(
    () =>
      createApi(
        config?.apiUrl ?? "",
        () => {
          const s = sessionRef.current;
          return s && s.expiresAt > Date.now() ? s.token : null;
        },
        () => endSession("signin.expired"),
      ),
    [config, endSession],
  );
  const ctx: AppContext = useMemo(() => ({ lang, t, api }), [lang, t, api]);

  const langSwitch = (
    <label className="lang">
      <span className="sr-only">{t("nav.language")}</span>
      <select data-testid="language-select" value={lang} onChange={(e) => setLang(e.target.value as Lang)}>
        <option value="ko">한국어</option>
        <option value="en">English</option>
      </select>
    </label>
  );

  if (configError) return <main className="page"><p className="error" role="alert">{t("signin.noconfig")}</p></main>;
  if (!config) return <main className="page"><p role="status">{t("common.loading")}</p></main>;

  if (!session) {
    return (
      <Ctx.Provider value={ctx}>
        <header className="top">
          <span className="brand">{t("app.title")}</span>
          {langSwitch}
        </header>
        <SignInPage
          config={config}
          message={message}
          onSignedIn={(s) => {
            storeSession(s);
            setSession(s);
            setMessage(null);
            if (!window.location.hash) navigate("/");
          }}
        />
      </Ctx.Provider>
    );
  }

  const path = location.pathname;
  let page;
  if (path === "/send") page = <SendPage />;
  else if (path.startsWith("/history")) page = <HistoryPage route={route} />;
  else if (path === "/gifts") page = <GiftsPage />;
  else if (path === "/manage") page = <ManagePage />;
  else if (path === "/account") page = <AccountPage />;
  else if (path === "/webhooks") page = <WebhooksPage />;
  else page = <HomePage />;

  return (
    <Ctx.Provider value={ctx}>
      <header className="top">
        <span className="brand">{t("app.title")}</span>
        <nav aria-label="main">
          {NAV.map(([href, key]) => {
            const current = href === "/" ? path === "/" : path.startsWith(href);
            return (
              <Link key={href} to={href} aria-current={current ? "page" : undefined} data-testid={`nav-${href === "/" ? "home" : href.slice(1)}`}>
                {t(key)}
              </Link>
            );
          })}
        </nav>
        <span className="who">{session.email}</span>
        {langSwitch}
        <button type="button" data-testid="sign-out" onClick={() => endSession("signin.signedout")}>
          {t("nav.signout")}
        </button>
      </header>
      <main className="page" key={path}>
        {page}
      </main>
    </Ctx.Provider>
  );
}

"""Browser-test fixtures: the dashboard served by the local stack, opened in headless Debian Chromium (Playwright).

    dashboard           the served dashboard: .url (DASHBOARD_URL), .api_url, .config (its config.json),
                        .placeholder (True when dashboard/dist has no build and a stand-in page was uploaded)
    browser             one Chromium for the session (/usr/bin/chromium, or $CHROMIUM); every test here is
                        skipped, saying so, when it is not installed
    open_page           open_page(path="", locale="en-US", width=1280, height=800, session=None) -> Page at
                        DASHBOARD_URL + path, in a fresh context (own cookies and sessionStorage); any console error
                        or uncaught exception in it fails the test, unless the test allowed it with
                        allow_console_error; `session` (see signed_in) is put in sessionStorage before the app's
                        scripts run, so the page opens signed in
    allow_console_error allow_console_error(text_pattern, url_prefix): a console error this test expects (e.g.
                        the browser logging Cognito's 400 for a wrong password) is not counted
    signed_in(email, password) -> the dashboard's session for that Cognito user (InitiateAuth USER_PASSWORD_AUTH
                        with boto3, the IdToken), without the sign-in page
    demo_session        signed_in() for the stack's demo user (DEMO_USER_EMAIL/DEMO_USER_PASSWORD)
    new_user            new_user(credits=0) -> (Client, session): a fresh approved account through the admin API,
                        a dashboard user of it (POST /admin/accounts/{id}/users, password set with
                        admin_set_user_password) and that user's session
    page                open_page() at the dashboard's root
    screenshot(page, name)          the full page to docs/screenshots/<name>.png (the README shows them)
    check_accessibility(page)       axe-core on the page as it is now; fails on any serious or critical violation

Playwright's own browser downloads are never used: `.ci/run` installs Debian's chromium and fonts-noto-cjk (without
a CJK font Hangul renders as empty boxes in the screenshots). axe-core comes from the dashboard's npm dev
dependencies (dashboard/node_modules/axe-core/axe.min.js, or $AXE_CORE_JS); it is injected into every page before
the page's own scripts run, outside the page's content security policy.
"""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest
import requests
from playwright.sync_api import Browser, ConsoleMessage, Page, expect, sync_playwright

from scripts import dashboard as dashboard_files
from tests.e2e.conftest import Client, Stack, make_account, unique

# Every expectation waits up to 30 s: on MiniStack under load an API call can take several seconds (a Lambda
# worker starting), far past Playwright's default of 5 s.
expect.set_options(timeout=30_000)

ROOT = Path(__file__).resolve().parents[3]
SCREENSHOTS = ROOT / "docs" / "screenshots"
CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
AXE_CORE_JS = Path(os.environ.get("AXE_CORE_JS", ROOT / "dashboard" / "node_modules" / "axe-core" / "axe.min.js"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
BLOCKING_IMPACTS = ("serious", "critical")
SESSION_KEY = "wn.session"  # dashboard/src/lib/auth.ts: {"token", "expiresAt" (epoch ms), "email"}

# Stands in for the app until dashboard/dist holds a build: a page that loads config.json as the app does.
PLACEHOLDER_FILES = {
    "index.html": """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Win notifications (placeholder)</title><script type="module" src="/placeholder.js"></script></head>
<body><main><h1>Win notifications</h1><p>API: <output data-testid="api-url">loading</output></p></main></body>
</html>
""",
    "placeholder.js": """const reply = await fetch("/config.json");
const config = await reply.json();
document.querySelector("[data-testid=api-url]").textContent = config.apiUrl;
""",
}


@dataclass(frozen=True)
class Dashboard:
    url: str
    api_url: str
    config: dict[str, Any]
    placeholder: bool


@pytest.fixture(scope="session")
def dashboard(stack: Stack) -> Dashboard:
    url = stack.env.get("DASHBOARD_URL", "")
    bucket = stack.env.get("DASHBOARD_BUCKET", "")
    if not url or not bucket:
        pytest.fail("browser tests: the stack env has no DASHBOARD_URL/DASHBOARD_BUCKET (restart: make stack-up)")
    placeholder = not (dashboard_files.DIST / "index.html").is_file()
    if placeholder:
        s3 = boto3.client(
            "s3",
            endpoint_url=stack.env["AWS_ENDPOINT_URL"],
            region_name=stack.env["AWS_REGION"],
            aws_access_key_id=stack.env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=stack.env["AWS_SECRET_ACCESS_KEY"],
        )
        with tempfile.TemporaryDirectory() as tmp:
            for name, text in PLACEHOLDER_FILES.items():
                (Path(tmp) / name).write_text(text)
            dashboard_files.upload(s3, bucket, Path(tmp), config=None)
    served = Dashboard(url=url, api_url=stack.api_url, config={}, placeholder=placeholder)
    reply = fetch(served, "config.json")
    reply.raise_for_status()
    return Dashboard(url=url, api_url=stack.api_url, config=reply.json(), placeholder=placeholder)


def fetch(dashboard: Dashboard, path: str) -> requests.Response:
    """GET a dashboard file as the browser does, without resolving *.localhost here (MiniStack picks the
    distribution by the Host header)."""
    parts = urlsplit(dashboard.url)
    return requests.get(f"http://127.0.0.1:{parts.port}/{path.lstrip('/')}", headers={"Host": parts.netloc}, timeout=30)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.is_file():
        pytest.skip(f"browser tests: no Chromium at {CHROMIUM} (apt-get install chromium fonts-noto-cjk; .ci/run does)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@dataclass
class PageErrors:
    """What the pages of one test reported: console errors and uncaught exceptions."""

    messages: list[str] = field(default_factory=list)
    allowed: list[tuple[re.Pattern[str], str]] = field(default_factory=list)

    def on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            location = message.location
            url = str(location.get("url", ""))
            if any(pattern.search(message.text) and url.startswith(prefix) for pattern, prefix in self.allowed):
                return
            self.messages.append(
                f"console error: {message.text} ({location.get('url', '')}:{location.get('lineNumber')})"
            )

    def on_page_error(self, error: Exception) -> None:
        self.messages.append(f"uncaught exception: {error}")


OpenPage = Callable[..., Page]
Session = dict[str, Any]


def _cognito(stack: Stack) -> Any:
    return boto3.client(
        "cognito-idp",
        endpoint_url=stack.env["COGNITO_ENDPOINT"],
        region_name=stack.env["AWS_REGION"],
        aws_access_key_id=stack.env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=stack.env["AWS_SECRET_ACCESS_KEY"],
    )


def _token_expiry_ms(token: str) -> int:
    payload = token.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return int(claims["exp"]) * 1000


SignedIn = Callable[[str, str], Session]


@pytest.fixture(scope="session")
def signed_in(stack: Stack) -> SignedIn:
    if not stack.env.get("USER_POOL_CLIENT_ID") or not stack.env.get("COGNITO_ENDPOINT"):
        pytest.fail("browser tests: the stack env lacks USER_POOL_CLIENT_ID / COGNITO_ENDPOINT")
    cognito = _cognito(stack)

    def sign_in(email: str, password: str) -> Session:
        reply = cognito.initiate_auth(
            ClientId=stack.env["USER_POOL_CLIENT_ID"],
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": email, "PASSWORD": password},
        )
        token = reply["AuthenticationResult"]["IdToken"]  # the authorizer takes the IdToken
        return {"token": token, "expiresAt": _token_expiry_ms(token), "email": email}

    return sign_in


@pytest.fixture(scope="session")
def demo_session(stack: Stack, signed_in: SignedIn) -> Session:
    return signed_in(stack.env["DEMO_USER_EMAIL"], stack.env["DEMO_USER_PASSWORD"])


NewUser = Callable[..., tuple[Client, Session]]


@pytest.fixture(scope="session")
def new_user(stack: Stack, admin: Client, signed_in: SignedIn) -> NewUser:
    cognito = _cognito(stack)

    def create(name: str = "Browser Shop", *, credits: int = 0) -> tuple[Client, Session]:
        account = make_account(admin, name, credits=credits)
        email = f"{unique('browser')}@shop.example".lower()
        created = admin.post(f"/admin/accounts/{account.account_id}/users", {"email": email, "name": "Lee"})
        assert created.status == 201, created
        password = f"Browser-{secrets.token_hex(6)}-A1"
        cognito.admin_set_user_password(
            UserPoolId=stack.env["USER_POOL_ID"], Username=email, Password=password, Permanent=True
        )
        return account, signed_in(email, password)

    return create


@pytest.fixture
def page_errors() -> PageErrors:
    return PageErrors()


@pytest.fixture
def allow_console_error(page_errors: PageErrors) -> Callable[[str, str], None]:
    """Lets this test's pages log one expected kind of console error: text matching ``text_pattern`` (a regular
    expression) reported for a URL starting with ``url_prefix``."""

    def allow(text_pattern: str, url_prefix: str) -> None:
        page_errors.allowed.append((re.compile(text_pattern), url_prefix))

    return allow


@pytest.fixture
def open_page(browser: Browser, dashboard: Dashboard, page_errors: PageErrors) -> Iterator[OpenPage]:
    errors = page_errors
    contexts = []

    def open_(
        path: str = "", locale: str = "en-US", width: int = 1280, height: int = 800, session: Session | None = None
    ) -> Page:
        context = browser.new_context(
            locale=locale,
            timezone_id="Asia/Seoul",
            viewport={"width": width, "height": height},
            extra_http_headers={"Accept-Language": locale},
        )
        if AXE_CORE_JS.is_file():
            context.add_init_script(path=AXE_CORE_JS)
        if session is not None:
            stored = json.dumps(json.dumps(session))
            context.add_init_script(script=f"window.sessionStorage.setItem({json.dumps(SESSION_KEY)}, {stored});")
        contexts.append(context)
        new_page = context.new_page()
        new_page.on("console", errors.on_console)
        new_page.on("pageerror", errors.on_page_error)
        new_page.goto(dashboard.url + path.lstrip("/"))
        return new_page

    yield open_
    for context in contexts:
        context.close()
    if errors.messages:
        pytest.fail("the page reported errors:\n  " + "\n  ".join(errors.messages))


@pytest.fixture
def page(open_page: OpenPage) -> Page:
    return open_page()


def screenshot(page: Page, name: str) -> Path:
    """The whole page as docs/screenshots/<name>.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=path, full_page=True)
    return path


def check_accessibility(page: Page) -> list[dict[str, Any]]:
    """Run axe-core on the page; fail on serious or critical violations, return the lesser ones."""
    if not AXE_CORE_JS.is_file():
        pytest.fail(f"axe-core not found at {AXE_CORE_JS}: `cd dashboard && npm ci` (it is a dev dependency)")
    if not page.evaluate("() => typeof window.axe === 'object'"):
        pytest.fail("axe-core is not in the page: open it with the open_page/page fixtures")
    violations: list[dict[str, Any]] = page.evaluate(
        "async () => (await window.axe.run(document, {resultTypes: ['violations']})).violations"
    )
    blocking = [v for v in violations if v.get("impact") in BLOCKING_IMPACTS]
    if blocking:
        lines = [
            f"{v['impact']}: {v['id']} ({v['help']}) at {', '.join(str(n['target']) for n in v['nodes'][:5])}"
            for v in blocking
        ]
        pytest.fail(f"accessibility ({page.url}):\n  " + "\n  ".join(lines))
    return violations

"""Signing in to the served dashboard as the demo user: Cognito from the browser, the API cross-origin with the
IdToken, Home in Korean and English, signing out, a wrong password."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import pytest
import requests
from playwright.sync_api import Page, Request, expect

from tests.e2e.conftest import Stack
from tests.e2e.dashboard.conftest import Dashboard, OpenPage, check_accessibility, screenshot

# Home loads four API resources at once; MiniStack starts a fresh Lambda worker for each concurrent call (~10 s cold).
HOME_TIMEOUT_MS = 45_000


@pytest.fixture(scope="module")
def demo(stack: Stack) -> dict[str, str]:
    missing = [name for name in ("DEMO_USER_EMAIL", "DEMO_USER_PASSWORD", "DEMO_API_KEY") if not stack.env.get(name)]
    if missing:
        pytest.fail(f"the stack env lacks {', '.join(missing)} (restart: make stack-up)")
    return stack.env


@pytest.fixture(scope="module")
def demo_credits(stack: Stack, demo: dict[str, str]) -> int:
    reply = requests.get(
        f"{stack.api_url}/account", headers={"Authorization": f"Bearer {demo['DEMO_API_KEY']}"}, timeout=30
    )
    reply.raise_for_status()
    return int(reply.json()["credits"])


def claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))


def sign_in(page: Page, email: str, password: str) -> None:
    page.get_by_test_id("signin-email").fill(email)
    page.get_by_test_id("signin-password").fill(password)
    page.get_by_test_id("signin-submit").click()


def test_the_demo_user_signs_in_sees_home_and_signs_out(
    open_page: OpenPage, dashboard: Dashboard, demo: dict[str, str], demo_credits: int
) -> None:
    page = open_page()
    api_calls: list[Request] = []
    page.on("request", lambda request: api_calls.append(request) if request.url.startswith(dashboard.api_url) else None)

    sign_in(page, demo["DEMO_USER_EMAIL"], demo["DEMO_USER_PASSWORD"])

    expect(page.get_by_test_id("home-credits")).to_contain_text(f"{demo_credits:,}", timeout=HOME_TIMEOUT_MS)
    expect(page.get_by_test_id("home-count-sms")).to_be_visible()
    authorizations = {request.headers.get("authorization", "") for request in api_calls if request.method != "OPTIONS"}
    assert authorizations and all(value.startswith("Bearer ") for value in authorizations)
    assert {claims(value.removeprefix("Bearer "))["token_use"] for value in authorizations} == {"id"}

    page.get_by_test_id("sign-out").click()
    expect(page.get_by_test_id("signin-form")).to_be_visible()
    expect(page.get_by_test_id("signin-message")).to_have_text("You are signed out.")
    expect(page.get_by_test_id("home-credits")).to_have_count(0)


def test_a_wrong_password_says_so(
    open_page: OpenPage,
    dashboard: Dashboard,
    demo: dict[str, str],
    allow_console_error: Callable[[str, str], None],
) -> None:
    # Chromium logs every 4xx a fetch receives; Cognito's NotAuthorizedException is an HTTP 400.
    allow_console_error(r"status of 400", dashboard.config["cognito"]["endpoint"])
    page = open_page()

    sign_in(page, demo["DEMO_USER_EMAIL"], demo["DEMO_USER_PASSWORD"] + "-wrong")

    expect(page.get_by_test_id("signin-error")).to_have_text("Wrong email or password.")
    expect(page.get_by_test_id("home-credits")).to_have_count(0)


@pytest.mark.parametrize(("locale", "lang", "title"), [("ko-KR", "ko", "크레딧"), ("en-US", "en", "Credits")])
def test_home_in_each_language(
    open_page: OpenPage, demo: dict[str, str], demo_credits: int, locale: str, lang: str, title: str
) -> None:
    page = open_page(locale=locale)

    sign_in(page, demo["DEMO_USER_EMAIL"], demo["DEMO_USER_PASSWORD"])

    credits = page.get_by_test_id("home-credits")
    expect(credits).to_contain_text(f"{demo_credits:,}", timeout=HOME_TIMEOUT_MS)
    expect(credits).to_contain_text(title)
    expect(page.get_by_test_id("language-select")).to_have_value(lang)
    assert page.evaluate("() => document.documentElement.lang") == lang
    page.wait_for_load_state("networkidle")
    screenshot(page, f"home-{lang}")
    check_accessibility(page)

"""The dashboard as the local stack serves it: CloudFront in front of the bucket, config.json, the security headers."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.e2e.dashboard.conftest import Dashboard, check_accessibility, fetch, screenshot


def test_the_dashboard_loads_without_console_errors(page: Page, dashboard: Dashboard) -> None:
    expect(page.locator("body")).to_be_visible()
    assert page.title().strip()
    if dashboard.placeholder:
        # The stand-in page reads config.json as the app does: what the stack wrote reaches the browser.
        expect(page.get_by_test_id("api-url")).to_have_text(dashboard.api_url)
    check_accessibility(page)
    screenshot(page, "dashboard-served")


def test_config_json_names_the_local_api(dashboard: Dashboard) -> None:
    assert dashboard.config["apiUrl"] == dashboard.api_url
    reply = fetch(dashboard, "config.json")
    assert reply.headers["Content-Type"].startswith("application/json")
    assert reply.headers["Cache-Control"] == "no-cache"


def test_pages_carry_the_content_security_policy(dashboard: Dashboard) -> None:
    reply = fetch(dashboard, "")
    assert reply.status_code == 200
    assert reply.headers["Content-Type"].startswith("text/html")
    policy = reply.headers["Content-Security-Policy"]
    assert "script-src 'self';" in policy
    assert "frame-ancestors 'none'" in policy
    assert dashboard.api_url.split("/_aws/", 1)[0] in policy  # connect-src lets the app reach the local API
    assert reply.headers["X-Content-Type-Options"] == "nosniff"
    assert reply.headers["Strict-Transport-Security"].startswith("max-age=")


def test_an_app_route_gets_the_app(dashboard: Dashboard) -> None:
    """A path the app routes in the browser is no file in the bucket: CloudFront answers with index.html."""
    reply = fetch(dashboard, "history/some-promotion")
    assert reply.status_code == 200
    assert reply.text == fetch(dashboard, "index.html").text

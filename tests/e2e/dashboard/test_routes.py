"""Every page has an address: a deep link opened directly shows its page, links go through the router, and the
browser's back button returns to the page before."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.e2e.dashboard.conftest import OpenPage, Session


def test_a_deep_link_opens_its_page_and_back_returns(open_page: OpenPage, demo_session: Session) -> None:
    page = open_page("#/webhooks", session=demo_session)
    expect(page.get_by_test_id("nav-webhooks")).to_have_attribute("aria-current", "page")

    page.get_by_test_id("nav-gifts").click()
    expect(page).to_have_url(page.url.split("#")[0] + "#/gifts")
    expect(page.get_by_test_id("nav-gifts")).to_have_attribute("aria-current", "page")

    page.go_back()
    expect(page).to_have_url(page.url.split("#")[0] + "#/webhooks")
    expect(page.get_by_test_id("nav-webhooks")).to_have_attribute("aria-current", "page")

    page.reload()
    expect(page.get_by_test_id("nav-webhooks")).to_have_attribute("aria-current", "page")

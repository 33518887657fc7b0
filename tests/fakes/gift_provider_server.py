"""A fake B2B gifticon API on 127.0.0.1: the wire protocol of shared.adapters.http_gift_provider, with the
contract's sandbox rules, served by tests.fakes.base.

Sandbox rules (by the phone's last four digits, as SandboxGiftProvider):
    unknown gift -> 422 GIFT_UNAVAILABLE; DISCONTINUED gift -> 410 GIFT_UNAVAILABLE
    ...0000 -> 404 RECIPIENT_NOT_FOUND
    ...9999 -> 503 on every call
    ...8888 -> 503 on the first two calls per Idempotency-Key, then success
    otherwise -> 201 with a new coupon; the same Idempotency-Key again -> 200 with the same coupon (issued once);
                 the same key with a different gift or phone -> 409 IDEMPOTENCY_KEY_REUSED
A missing or wrong ``Authorization: Bearer <api_key>`` -> 401 UNAUTHORIZED.

Test controls (tests.fakes.base): ``respond_next``, ``hang_next``, ``requests``; here also ``set_catalog``,
``issue_count`` (coupons actually created) and ``coupon_for``.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date
from typing import Any

from shared.adapters.gift_provider import SANDBOX_CATALOG
from shared.clock import gifticon_expiry, utc_now
from tests.fakes.base import E164, FakeJsonServer, Reply, RouteHandler, error_reply, idempotent_json, json_reply


def default_catalog() -> list[dict[str, Any]]:
    return [
        {"gift_id": g.gift_id, "name": g.name, "brand": g.brand, "price": g.price, "status": g.status}
        for g in SANDBOX_CATALOG
    ]


@dataclass(frozen=True)
class Coupon:
    coupon_id: str
    expires_on: date
    fingerprint: tuple[str, str]  # (gift_id, phone) the key was first used with


class FakeGiftProviderServer(FakeJsonServer):
    """Start with ``with FakeGiftProviderServer(api_key) as server:``; ``server.url`` is the endpoint."""

    thread_name = "fake-gift-provider"

    def __init__(self, api_key: str) -> None:
        super().__init__(api_key)
        self._catalog = default_catalog()
        self._coupons: dict[str, Coupon] = {}
        self._issue_count = 0  # coupons actually created (replays excluded)

    def set_catalog(self, items: list[dict[str, Any]]) -> None:
        with self._lock:
            self._catalog = items

    @property
    def issue_count(self) -> int:
        with self._lock:
            return self._issue_count

    def coupon_for(self, idempotency_key: str) -> Coupon | None:
        with self._lock:
            return self._coupons.get(idempotency_key)

    def routes(self) -> dict[str, dict[str, RouteHandler]]:
        return {"/v1/catalog": {"GET": self._list_catalog}, "/v1/coupons": {"POST": self._issue}}

    def _list_catalog(self, headers: dict[str, str], body: bytes) -> Reply:
        return json_reply(200, {"items": self._catalog})

    def _issue(self, headers: dict[str, str], body: bytes) -> Reply:
        parsed = idempotent_json(headers, body)
        if isinstance(parsed, Reply):
            return parsed
        key, request = parsed
        fields = ("gift_id", "phone", "title", "message")
        if not isinstance(request, dict) or not all(isinstance(request.get(f), str) for f in fields):
            return error_reply(400, "VALIDATION_ERROR", "gift_id, phone, title and message are required")
        gift_id, phone = request["gift_id"], request["phone"]
        if not E164.match(phone):
            return error_reply(400, "VALIDATION_ERROR", "phone must be E.164")

        existing = self._coupons.get(key)
        if existing is not None:
            if existing.fingerprint != (gift_id, phone):
                return error_reply(409, "IDEMPOTENCY_KEY_REUSED", "Idempotency-Key was used with another request")
            return _coupon(200, existing)

        gift = next((g for g in self._catalog if g.get("gift_id") == gift_id), None)
        if gift is None:
            return error_reply(422, "GIFT_UNAVAILABLE", "unknown gift")
        if gift.get("status") != "ON_SALE":
            return error_reply(410, "GIFT_UNAVAILABLE", "gift discontinued")
        refusal = self.sandbox_refusal(key, phone)
        if refusal is not None:
            return refusal

        self._issue_count += 1
        coupon = Coupon(
            coupon_id=f"CPN-{secrets.token_hex(8).upper()}",
            expires_on=gifticon_expiry(utc_now()),
            fingerprint=(gift_id, phone),
        )
        self._coupons[key] = coupon
        return _coupon(201, coupon)


def _coupon(status: int, coupon: Coupon) -> Reply:
    return json_reply(status, {"coupon_id": coupon.coupon_id, "expires_on": coupon.expires_on.isoformat()})

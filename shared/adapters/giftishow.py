"""The gift provider port over KT alpha's Giftishow Biz API (urllib3, one HTTP attempt per call).

Wire protocol, as public client code uses it (no official specification was at hand; see "Sources" below):

    POST {endpoint}/<path>        endpoint default https://bizapi.giftishow.com/bizApi
        Content-Type: application/x-www-form-urlencoded; charset=UTF-8
        api_code, custom_auth_code, custom_auth_token, dev_yn (Y = test, N = live) on every call;
        user_id (the business's Giftishow account) on send, coupon info and cancel.
        The answer is JSON: ``{"code": "0000", "message": ..., "result": ...}``; "0000" is success.

    /goods    0101 goods list: start (page, 1-based), size -> result.goodsList[] with goodsCode, goodsName,
              brandName, salePrice, goodsStateCd ("SALE" while on sale)
    /send     0204 coupon send: goods_code, tr_id (caller-chosen, unique, at most 25 bytes), phone_no and
              callback_no (digits only), mms_title, mms_msg, gubun (N = Giftishow sends the MMS), user_id
              -> result.code "0000", result.result.{orderNo, pinNo, couponImgUrl}
    /coupons  0201 coupon info by tr_id -> result[].couponInfoList[].{pinStatusCd, validPrdEndDt, ...}
    /cancel   0202 cancel by tr_id (not used here)

How the answers map (every code is read at the top level and, for 0204, in ``result`` too):

    0000 (both levels)                          -> ISSUED, coupon_id = tr_id, expiry: the service's 30-day rule
    ERR0817, COUPON.0005 (recipient number)     -> RECIPIENT_NOT_FOUND
    ERR0401, COUPON.0011 (no such goods)        -> GIFT_UNAVAILABLE
    ERR0215, COUPON.0015 (tr_id already used)   -> resolved by 0201, below
    E0002..E0013 (API code, auth key/token, dev_yn), ERR0300/ERR0301 (no API account), E0010 (the business's
    biz money is empty), ERR0201/ERR0214/ERR0806/ERR0807/COUPON.0001-0004/0010/0012-0014 (a request this
    adapter built wrong), HTTP 3xx/4xx                                       -> ProviderRejected
    ERR0100 (test service down)                 -> ProviderUnavailable
    HTTP 429 (too many requests; no Giftishow code for it was found)  -> ProviderUnavailable with the answer's
                                                   Retry-After: nothing was done, the same tr_id goes again later
    anything else: E9999, ERR0000/0005/0008 (the provider's own faults), ERR0999, any unknown code, HTTP 5xx,
    a timeout, a dropped connection, an unreadable body                       -> resolved by 0201

Resolution (an outcome we cannot know from the answer): one 0201 call with the same tr_id before anything else.
A coupon found in an issued state -> ISSUED with its validPrdEndDt (else the 30-day rule); found voided (returned,
discarded, refunded, cancelled) -> ProviderRejected (nothing to charge, an operator should look); nothing found,
or 0201 failing itself -> ProviderUnavailable, and the caller retries 0204 with the same tr_id. The tr_id is a
digest of the recipient attempt's key, so every retry carries the same one and the provider's duplicate check
(ERR0215) stops a second coupon; a retry therefore never issues twice.

The coupon id is the tr_id: the handle every coupon call (0201 info, 0202 cancel, 0203 resend) takes, and the
same whichever way the outcome was learnt. Credits are the goods' ``salePrice`` (its face value in KRW), not
``discountPrice`` (what the business pays under its Giftishow discount grade): a gift costs the same credits
whatever the grade. A goods state other than "SALE" is DISCONTINUED.

Request rate: every HTTP call first takes a token from the injected ``limiter`` (shared.adapters.rate_limit), this
instance's share of GiftProviderRequestsPerSecond. Giftishow publishes no rate limit (none in its API spec V0.0.95
nor in any public client); the limit is the operator's, agreed with KT alpha.

Nothing here logs or puts into exception messages the auth code or token, phone numbers, pins, tr_ids or bodies.

Sources (public code; docs/providers.md lists each fact with where it was checked):
- github YongWoo-8933/Cafejari-Server shop/giftishow_biz.py: the base URL, paths /goods /send /cancel /bizmoney,
  api_code 0101/0204/0202/0301, the 0204 fields (goods_code, mms_msg, mms_title, callback_no, phone_no, tr_id,
  user_id, gubun), dev_yn; shop/views.py: ``result.result.couponImgUrl`` in a 0204 answer; cron/item.py:
  ``result.goodsList`` with goodsCode, goodsName, brandName, goodsStateCd == "SALE".
- A TypeScript Giftishow client "based on API spec v1.04" (content search, code corpus; index id 35081489404):
  form-encoded POSTs, dev_yn Y/N, /coupons for 0201, ``result`` of 0201 as a list of {couponInfoList, resCode},
  pinStatusCd codes (01 issued, 02 exchanged, 03 returned, 04 discarded, 05 refunded, 06 reissued, 07 cancelled,
  08 expired), tr_id at most 25 characters, gubun N = MMS, and the error-code table used above (ERR0215 duplicate
  tr_id, ERR0807 tr_id over 25 bytes, ERR0817 recipient number, ERR0401 no such goods, E0008/E0009 key/token,
  E0010 biz money, E9999); the same codes in a Java service (index id 23357025271).
- Two more clients (index ids 57387963979, 53779405291): the outer ``code`` then ``result.code`` then
  ``result.result`` nesting of 0204, and a timeout resolved through 0201 by tr_id.
- The provider's own "기프티쇼 비즈 API 연동규격서 V0.0.95" (scribd.com/document/742680233): coupons issued
  through the API are valid 30 days (with exceptions).
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import re
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal
from urllib.parse import urlencode, urlsplit

import urllib3
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shared.adapters.rate_limit import TokenBucket, retry_after_seconds
from shared.domain.clock import gifticon_expiry, utc_now
from shared.domain.gifts.provider import IssueOutcome, IssueRequest, IssueResult
from shared.errors import ProviderRejected, ProviderUnavailable
from shared.models.items import GiftItem

logger = logging.getLogger(__name__)

DEFAULT_ENDPOINT = "https://bizapi.giftishow.com/bizApi"
TR_ID_MAX_LENGTH = 25  # ERR0807: "TR_ID가 25byte를 초과했습니다"
_TR_ID_PREFIX = "wn_"
MMS_TITLE_MAX_LENGTH = 10  # the stricter of the two limits seen (10 characters; ERR0806 says 20)
CATALOG_PAGE_SIZE = 100
_MAX_CATALOG_PAGES = 500  # a provider that never returns a short page must not loop forever
_POOL_MAXSIZE = 64  # consumers call the provider from up to PROVIDER_CONCURRENCY threads
_USER_AGENT = "win-notifications/1.0"

_SUCCESS = "0000"
_RECIPIENT_NOT_FOUND = frozenset({"ERR0817", "COUPON.0005"})
_GIFT_UNAVAILABLE = frozenset({"ERR0401", "COUPON.0011"})
_DUPLICATE_TR_ID = frozenset({"ERR0215", "COUPON.0015"})
_REJECTED = frozenset(
    {
        *("E0002", "E0006", "E0007", "E0008", "E0009", "E0010", "E0011", "E0012", "E0013"),
        *("ERR0201", "ERR0214", "ERR0300", "ERR0301", "ERR0806", "ERR0807"),
        *("COUPON.0001", "COUPON.0002", "COUPON.0003", "COUPON.0004", "COUPON.0010"),
        *("COUPON.0012", "COUPON.0013", "COUPON.0014"),
        *("400", "401", "403", "405", "414"),
    }
)
_UNAVAILABLE = frozenset({"ERR0100"})
# pinStatusCd of a coupon that no longer reaches the recipient: returned, discarded, refunded, cancelled.
_VOIDED_PIN_STATUSES = frozenset({"03", "04", "05", "07"})
_KOREAN_MOBILE = re.compile(r"^\+8210\d{7,8}$")
_CALLBACK_NUMBER = re.compile(r"^\d{8,12}$")

DevYn = Literal["Y", "N"]


class GiftishowCredentials(BaseModel):
    """The Secrets Manager secret's JSON."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    custom_auth_code: str = Field(min_length=1)
    custom_auth_token: str = Field(min_length=1)
    user_id: str = Field(min_length=1)

    @classmethod
    def from_secret(cls, secret: str) -> GiftishowCredentials:
        try:
            return cls.model_validate_json(secret)
        except ValidationError as exc:
            # pydantic's message quotes the input: name only the fields at fault.
            fields = sorted({".".join(str(part) for part in error["loc"]) for error in exc.errors()})
            raise ValueError(f"Giftishow secret is not valid JSON with {', '.join(fields) or 'its fields'}") from None

    def __repr__(self) -> str:
        return "GiftishowCredentials(...)"

    __str__ = __repr__


def tr_id_for(idempotency_key: str) -> str:
    """The provider's transaction id for one recipient attempt: always the same for the same key, 25 characters
    (a prefix and 110 bits of its SHA-256 in base32), letters, digits and ``_`` only."""
    digest = base64.b32encode(hashlib.sha256(idempotency_key.encode("utf-8")).digest()).decode("ascii").lower()
    return _TR_ID_PREFIX + digest[: TR_ID_MAX_LENGTH - len(_TR_ID_PREFIX)]


def domestic_number(phone: str) -> str | None:
    """+821012345678 -> 01012345678 (the provider takes Korean mobile numbers, digits only); None otherwise."""
    return "0" + phone[3:] if _KOREAN_MOBILE.fullmatch(phone) else None


@dataclass(frozen=True)
class _Answer:
    status: int
    payload: Any  # parsed JSON, or None
    retry_after: float | None = None  # a 429's Retry-After, in seconds

    def code(self) -> str | None:
        return _code_of(self.payload)


class GiftishowProvider:
    """GiftProvider over Giftishow Biz, as the module docstring describes."""

    def __init__(
        self,
        credentials: GiftishowCredentials,
        callback_number: str,
        *,
        endpoint: str = DEFAULT_ENDPOINT,
        dev_yn: DevYn = "N",
        timeout_seconds: float = 5.0,
        send_timeout_seconds: float = 10.0,
        http: urllib3.PoolManager | None = None,
        limiter: TokenBucket | None = None,
    ) -> None:
        parts = urlsplit(endpoint)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("Giftishow endpoint must be an absolute http(s) URL")
        callback = callback_number.replace("-", "")
        if not _CALLBACK_NUMBER.fullmatch(callback):
            raise ValueError("Giftishow callback number must be 8 to 12 digits")
        if dev_yn not in ("Y", "N"):
            raise ValueError("dev_yn must be Y or N")
        if timeout_seconds <= 0 or send_timeout_seconds <= 0:
            raise ValueError("timeouts must be positive")
        self._endpoint = endpoint.rstrip("/")
        self._credentials = credentials
        self._callback = callback
        self._dev_yn = dev_yn
        self._timeout = urllib3.Timeout(total=timeout_seconds)
        self._send_timeout = urllib3.Timeout(total=send_timeout_seconds)
        self._http = http or urllib3.PoolManager(maxsize=_POOL_MAXSIZE, retries=False)
        self._limiter = limiter

    def __repr__(self) -> str:
        return f"GiftishowProvider(endpoint={self._endpoint!r}, dev_yn={self._dev_yn!r})"

    # -- issue ---------------------------------------------------------------------------------------------------

    def issue(self, request: IssueRequest) -> IssueResult:
        phone = domestic_number(request.phone)
        if phone is None:
            return IssueResult(IssueOutcome.RECIPIENT_NOT_FOUND)  # not a number the provider can send to
        tr_id = tr_id_for(request.idempotency_key)
        fields = {
            "goods_code": request.gift_id,
            "tr_id": tr_id,
            "phone_no": phone,
            "callback_no": self._callback,
            "mms_title": _mms_title(request),
            "mms_msg": request.content,
            "gubun": "N",  # Giftishow issues the coupon and sends it by MMS itself
            "user_id": self._credentials.user_id,
        }
        try:
            answer = self._call("0204", "/send", fields, self._send_timeout)
        except ProviderUnavailable:
            return self._resolve(tr_id, "no answer")
        if answer.status == 429:
            raise self._throttled("send", answer)  # refused before any work: no coupon to look for
        if not 200 <= answer.status < 300:
            if answer.status >= 500:
                return self._resolve(tr_id, f"HTTP {answer.status}")
            raise self._rejected("send", answer.status, answer.code())
        code = _send_code(answer.payload)
        if code == _SUCCESS:
            return IssueResult(IssueOutcome.ISSUED, coupon_id=tr_id, expires_on=gifticon_expiry(utc_now()))
        if code in _RECIPIENT_NOT_FOUND:
            return IssueResult(IssueOutcome.RECIPIENT_NOT_FOUND)
        if code in _GIFT_UNAVAILABLE:
            return IssueResult(IssueOutcome.GIFT_UNAVAILABLE)
        if code in _REJECTED:
            raise self._rejected("send", answer.status, code)
        if code in _UNAVAILABLE:
            raise self._unavailable("send", answer.status, code)
        return self._resolve(tr_id, "duplicate tr_id" if code in _DUPLICATE_TR_ID else f"code {code}")

    def _resolve(self, tr_id: str, why: str) -> IssueResult:
        """The send's outcome is unknown: ask for the coupon by tr_id before anything is retried."""
        logger.warning("Giftishow send outcome unknown; reading the coupon", extra={"reason": why})
        fields = {"tr_id": tr_id, "user_id": self._credentials.user_id}
        answer = self._call("0201", "/coupons", fields, self._timeout)  # ProviderUnavailable propagates
        if answer.status == 429:
            raise self._throttled("coupon info", answer)
        if answer.status != 200 or answer.code() != _SUCCESS:
            raise self._unavailable("coupon info", answer.status, answer.code())
        coupon = _first_coupon(answer.payload)
        if coupon is None:
            raise self._unavailable("coupon info", answer.status, None, "no coupon for this attempt yet")
        if coupon.pin_status in _VOIDED_PIN_STATUSES:
            raise self._rejected("coupon info", answer.status, f"pin status {coupon.pin_status}")
        return IssueResult(
            IssueOutcome.ISSUED,
            coupon_id=tr_id,
            expires_on=coupon.valid_until or gifticon_expiry(utc_now()),
        )

    # -- catalog -------------------------------------------------------------------------------------------------

    def catalog(self) -> list[GiftItem]:
        items: list[GiftItem] = []
        seen: set[str] = set()
        skipped = 0
        for page in range(1, _MAX_CATALOG_PAGES + 1):
            goods = self._goods_page(page)
            for raw in goods:
                item = _gift_item(raw, len(items) + 1)
                if item is None:
                    skipped += 1
                elif item.gift_id not in seen:
                    seen.add(item.gift_id)
                    items.append(item)
            if len(goods) < CATALOG_PAGE_SIZE:
                break
        if skipped:
            logger.warning("Giftishow goods without a usable code, name or price skipped", extra={"count": skipped})
        return items

    def _goods_page(self, page: int) -> list[Any]:
        answer = self._call("0101", "/goods", {"start": str(page), "size": str(CATALOG_PAGE_SIZE)}, self._timeout)
        code = answer.code()
        if answer.status == 429:
            raise self._throttled("goods list", answer)
        if answer.status != 200 or code != _SUCCESS:
            if (answer.status < 500 and answer.status != 200) or code in _REJECTED:
                raise self._rejected("goods list", answer.status, code)
            raise self._unavailable("goods list", answer.status, code)
        result = answer.payload.get("result")
        goods = result.get("goodsList") if isinstance(result, dict) else None
        if goods is None:
            goods = []  # a page past the end may come without a list
        if not isinstance(goods, list):
            raise self._unavailable("goods list", answer.status, None, "result has no goods list")
        return goods

    # -- HTTP ----------------------------------------------------------------------------------------------------

    def _call(self, api_code: str, path: str, fields: dict[str, str], timeout: urllib3.Timeout) -> _Answer:
        """One attempt. Connection errors and timeouts raise ProviderUnavailable (only the error type is kept)."""
        form = {
            "api_code": api_code,
            "custom_auth_code": self._credentials.custom_auth_code,
            "custom_auth_token": self._credentials.custom_auth_token,
            "dev_yn": self._dev_yn,
            **fields,
        }
        if self._limiter is not None:
            self._limiter.acquire()
        try:
            response = self._http.request(
                "POST",
                f"{self._endpoint}{path}",
                body=urlencode(form).encode("ascii"),
                headers={
                    "Content-Type": "application/x-www-form-urlencoded; charset=UTF-8",
                    "Accept": "application/json",
                    "User-Agent": _USER_AGENT,
                },
                timeout=timeout,
                retries=False,
                redirect=False,
            )
        except urllib3.exceptions.HTTPError as exc:
            logger.warning("Giftishow unreachable", extra={"api_code": api_code, "error": type(exc).__name__})
            raise ProviderUnavailable(f"Giftishow {api_code}: {type(exc).__name__}") from exc
        retry_after = retry_after_seconds(response.headers.get("Retry-After")) if response.status == 429 else None
        return _Answer(response.status, _parse_json(response.data), retry_after)

    def _rejected(self, operation: str, status: int, code: str | None) -> ProviderRejected:
        logger.error("Giftishow rejected the call", extra={"operation": operation, "status": status, "code": code})
        return ProviderRejected(f"Giftishow {operation}: HTTP {status} {code or ''}".rstrip(), status=status, code=code)

    def _throttled(self, operation: str, answer: _Answer) -> ProviderUnavailable:
        logger.warning("Giftishow throttled", extra={"operation": operation, "retry_after": answer.retry_after})
        return ProviderUnavailable(f"Giftishow {operation}: HTTP 429", retry_after=answer.retry_after)

    def _unavailable(
        self, operation: str, status: int, code: str | None, detail: str | None = None
    ) -> ProviderUnavailable:
        logger.warning(
            "Giftishow unavailable", extra={"operation": operation, "status": status, "code": code, "detail": detail}
        )
        reason = detail or f"HTTP {status} {code or ''}".rstrip()
        return ProviderUnavailable(f"Giftishow {operation}: {reason}")


# -- reading answers ---------------------------------------------------------------------------------------------


def _mms_title(request: IssueRequest) -> str:
    """The provider requires a title and limits its length; a gift send's title is optional."""
    return (request.title.strip() or request.content.strip())[:MMS_TITLE_MAX_LENGTH].strip()


def _parse_json(data: bytes) -> Any:
    if not data:
        return None
    try:
        return json.loads(data)
    except ValueError:  # JSONDecodeError and UnicodeDecodeError
        return None


def _code_of(payload: Any) -> str | None:
    code = payload.get("code") if isinstance(payload, dict) else None
    return code if isinstance(code, str) and code else None


def _send_code(payload: Any) -> str | None:
    """A 0204 answer's code: the top level's, unless that is success and ``result`` names another. A success
    without the nested result (where the issued coupon is described) counts as unreadable (None)."""
    outer = _code_of(payload)
    if outer != _SUCCESS:
        return outer
    envelope = payload.get("result")
    if not isinstance(envelope, dict):
        return None
    inner = _code_of(envelope)
    if inner is not None and inner != _SUCCESS:
        return inner
    return _SUCCESS if isinstance(envelope.get("result"), dict) or inner == _SUCCESS else None


@dataclass(frozen=True)
class _Coupon:
    pin_status: str
    valid_until: date | None


def _first_coupon(payload: Any) -> _Coupon | None:
    result = payload.get("result") if isinstance(payload, dict) else None
    rows = result if isinstance(result, list) else [result]
    for row in rows:
        coupons = row.get("couponInfoList") if isinstance(row, dict) else None
        for coupon in coupons if isinstance(coupons, list) else []:
            if isinstance(coupon, dict):
                status = coupon.get("pinStatusCd")
                return _Coupon(str(status) if status is not None else "", _provider_date(coupon.get("validPrdEndDt")))
    return None


def _provider_date(value: Any) -> date | None:
    """validPrdEndDt as seen in public code: "20250131", "2025-01-31" or with a time after the date."""
    digits = re.sub(r"\D", "", value) if isinstance(value, str) else ""
    if len(digits) < 8:
        return None
    try:
        return date(int(digits[:4]), int(digits[4:6]), int(digits[6:8]))
    except ValueError:
        return None


def _gift_item(raw: Any, position: int) -> GiftItem | None:
    if not isinstance(raw, dict):
        return None
    try:
        return GiftItem(
            gift_id=raw["goodsCode"],
            name=raw["goodsName"],
            brand=raw.get("brandName") or "",
            price=int(raw["salePrice"]),
            status="ON_SALE" if raw.get("goodsStateCd") == "SALE" else "DISCONTINUED",
            position=position,
        )
    except (KeyError, TypeError, ValueError, ValidationError):
        return None

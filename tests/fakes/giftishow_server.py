"""A fake Giftishow Biz API on 127.0.0.1: the wire protocol shared.adapters.giftishow describes, on the
tests.fakes.base server (lifecycle, request log, ``respond_next``, ``hang_next``).

Every request must be a form-encoded POST to ``/bizApi/<path>`` with the path's api_code and the fake's
custom_auth_code, custom_auth_token and a dev_yn; send, coupon info and cancel also need its user_id. Otherwise the
answer is HTTP 200 with the provider's code: a missing key/token/dev_yn E0011/E0012/E0013, a wrong key E0008, a
wrong token E0009, the wrong api_code E0007, a missing or wrong user_id ERR0301, another media type HTTP 400.

    /goods    0101  the catalog in pages (start = page number from 1, size)
    /send     0204  a new coupon per tr_id; a used tr_id -> ERR0215; a tr_id over 25 characters -> ERR0807;
                    a phone ending 0000 -> ERR0817; unknown goods or goods not on sale -> ERR0401;
                    not enough biz money -> E0010 (each coupon costs its goods' discountPrice)
    /coupons  0201  the coupon of a tr_id (an empty couponInfoList when there is none)
    /cancel   0202  cancels a tr_id's coupon (pinStatusCd 07) and gives its price back

Fault controls, besides the base's: ``drop_next_response(status, api_code=None)`` processes the next request (of that
api_code, if given; a send issues its coupon) but answers ``status`` with an HTML body; ``hang_next(seconds)``
processes it and holds the answer longer than a client's timeout. ``calls(api_code)`` counts requests per api_code;
``coupon(tr_id)``, ``issue_count`` and ``issued_tr_ids`` show what was issued; ``biz_money`` is the balance sends
draw on.

Standalone, for a stack deployed against it: ``python -m tests.fakes.giftishow_server --port 8710`` prints the
endpoint (GiftProviderEndpoint) and serves until interrupted. Its controls over HTTP (loopback only, no auth):
``POST /_fake/drop-next`` ``{"status"?: 500, "api_code"?: "0204"}`` is ``drop_next_response``; ``GET /_fake/calls``
answers ``{"calls": {api_code: count}, "issued": issue_count, "biz_money": ...}``.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Unpack
from urllib.parse import parse_qs

from shared.domain.clock import SEOUL, utc_now
from tests.fakes import base
from tests.fakes.base import Control, LoopbackFake, RecordedRequest, Reply, json_reply

AUTH_CODE = "REAL-fake-auth-code-3f9a1c"
AUTH_TOKEN = "fake-auth-token-Q2hlY2s="
USER_ID = "winners@example.com"
PREFIX = "/bizApi"
API_CODES = {"/goods": "0101", "/send": "0204", "/coupons": "0201", "/cancel": "0202"}
_NEEDS_USER = frozenset({"0204", "0201", "0202"})


def goods(code: str, name: str, brand: str, price: int, state: str = "SALE") -> dict[str, Any]:
    """One goods row of a 0101 answer (the fields the adapter reads, and a few it does not)."""
    return {
        "goodsCode": code,
        "goodsNo": int(code[-5:]) if code[-5:].isdigit() else 0,
        "goodsName": name,
        "brandName": brand,
        "salePrice": price,
        "realPrice": price,
        "discountPrice": price * 94 // 100,
        "goodsStateCd": state,
        "limitDay": 30,
        "goodsTypeDtlNm": "모바일쿠폰",
    }


def default_goods() -> list[dict[str, Any]]:
    return [
        goods("G00000000101", "아메리카노 T", "스타벅스", 4_500),
        goods("G00000000102", "딸기 생크림 케이크", "파리바게뜨", 25_000),
        goods("G00000000103", "황금올리브 치킨", "BBQ", 20_000),
        goods("G00000000104", "영화 관람권", "CGV", 13_000),
        goods("G00000000105", "단종 교환권", "GS25", 3_000, state="STOP"),
    ]


@dataclass
class Coupon:
    tr_id: str
    goods_code: str
    phone: str
    order_no: str
    pin_no: str
    price: int
    pin_status: str = "01"
    valid_until: str = field(
        default_factory=lambda: (utc_now().astimezone(SEOUL).date() + timedelta(days=29)).strftime("%Y%m%d")
    )


def _answer(code: str, message: str = "", result: Any = None) -> Reply:
    return json_reply(200, {"code": code, "message": message or None, "result": result})


class FakeGiftishowServer(LoopbackFake):
    """Start with ``with FakeGiftishowServer() as server:``; ``server.url`` is the endpoint (…/bizApi)."""

    thread_name = "fake-giftishow"

    def __init__(
        self,
        auth_code: str = AUTH_CODE,
        auth_token: str = AUTH_TOKEN,
        user_id: str = USER_ID,
        **address: Unpack[base.Address],
    ) -> None:
        super().__init__(**address)
        self.auth_code, self.auth_token, self.user_id = auth_code, auth_token, user_id
        self._goods = default_goods()
        self._coupons: dict[str, Coupon] = {}
        self._calls_by_code: dict[str, int] = {}
        self._drops: list[tuple[int, str | None]] = []  # (status, only for this api_code)
        self.biz_money = 100_000_000  # over 20,000 coupons of the dearest goods

    @property
    def url(self) -> str:
        return super().url + PREFIX

    # -- test controls and inspection --------------------------------------------------------------------------

    def set_goods(self, rows: list[dict[str, Any]]) -> None:
        with self._lock:
            self._goods = rows

    def drop_next_response(self, status: int = 500, api_code: str | None = None) -> None:
        """The next request (to ``api_code``'s path, if given) is processed as usual, but its answer is lost: the
        client gets ``status``."""
        with self._lock:
            self._drops.append((status, api_code))

    def calls(self, api_code: str) -> int:
        with self._lock:
            return self._calls_by_code.get(api_code, 0)

    def coupon(self, tr_id: str) -> Coupon | None:
        with self._lock:
            return self._coupons.get(tr_id)

    @property
    def issue_count(self) -> int:
        with self._lock:
            return len(self._coupons)

    @property
    def issued_tr_ids(self) -> set[str]:
        with self._lock:
            return set(self._coupons)

    def form(self, recorded: RecordedRequest) -> dict[str, str]:
        return {name: values[-1] for name, values in parse_qs(recorded.body.decode("utf-8")).items()}

    # -- request handling --------------------------------------------------------------------------------------

    def answer(self, method: str, target: str, headers: dict[str, str], body: bytes) -> Reply:
        reply = self._serve(method, target, headers, body)
        drop = self._take_drop(API_CODES.get(target.removeprefix(PREFIX)))
        return Reply(drop, b"<html><body>upstream error</body></html>") if drop is not None else reply

    def _take_drop(self, api_code: str | None) -> int | None:
        for n, (status, only) in enumerate(self._drops):
            if only is None or only == api_code:
                del self._drops[n]
                return status
        return None

    def controls(self) -> dict[tuple[str, str], Control]:
        return {("GET", "calls"): self._calls_control, ("POST", "drop-next"): self._drop_control}

    def _calls_control(self, request: dict[str, Any]) -> Reply:
        with self._lock:
            calls, issued, money = dict(self._calls_by_code), len(self._coupons), self.biz_money
        return json_reply(200, {"calls": calls, "issued": issued, "biz_money": money})

    def _drop_control(self, request: dict[str, Any]) -> Reply:
        status, api_code = request.get("status", 500), request.get("api_code")
        if not isinstance(status, int) or not (api_code is None or isinstance(api_code, str)):
            return base.control_error(400, "status: int, api_code: str")
        self.drop_next_response(status, api_code)
        return json_reply(200, {"dropping": status, "api_code": api_code})

    def _serve(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Reply:
        if not path.startswith(PREFIX + "/") or path[len(PREFIX) :] not in API_CODES:
            return json_reply(404, {"code": "404", "message": "not found"})
        if method != "POST":
            return json_reply(405, {"code": "405", "message": "method not allowed"})
        if not (headers.get("content-type") or "").startswith("application/x-www-form-urlencoded"):
            return json_reply(400, {"code": "400", "message": "요청형식 틀림"})
        try:
            form = {name: values[-1] for name, values in parse_qs(body.decode("utf-8"), strict_parsing=True).items()}
        except (UnicodeDecodeError, ValueError):
            return json_reply(400, {"code": "400", "message": "요청형식 틀림"})
        api_code = form.get("api_code", "")
        self._calls_by_code[api_code] = self._calls_by_code.get(api_code, 0) + 1
        refusal = self._authorise(API_CODES[path[len(PREFIX) :]], form)
        if refusal is not None:
            return refusal
        handler = {"0101": self._goods_list, "0204": self._send, "0201": self._coupon_info, "0202": self._cancel}
        return handler[api_code](form)

    def _authorise(self, expected_api_code: str, form: dict[str, str]) -> Reply | None:
        if form.get("api_code") != expected_api_code:
            return _answer("E0007", "API코드가 일치하지 않습니다")
        if not form.get("custom_auth_code"):
            return _answer("E0011", "인증키가 없습니다")
        if not form.get("custom_auth_token"):
            return _answer("E0012", "토큰키가 없습니다")
        if form.get("dev_yn") not in ("Y", "N"):
            return _answer("E0013", "테스트 YN 값이 없습니다")
        if not secrets.compare_digest(form["custom_auth_code"], self.auth_code):
            return _answer("E0008", "유효한 인증 키가 아닙니다")
        if not secrets.compare_digest(form["custom_auth_token"], self.auth_token):
            return _answer("E0009", "유효한 인증 토큰이 아닙니다")
        if expected_api_code in _NEEDS_USER and form.get("user_id") != self.user_id:
            return _answer("ERR0301", "API 가입정보 없음")
        return None

    def _goods_list(self, form: dict[str, str]) -> Reply:
        try:
            page, size = int(form.get("start", "1")), int(form.get("size", "20"))
        except ValueError:
            return _answer("PAG0001", "페이징 관련 오류")
        if page < 1 or size < 1:
            return _answer("PAG0001", "페이징 관련 오류")
        rows = self._goods[(page - 1) * size : page * size]
        return _answer("0000", result={"listNum": len(rows), "goodsList": rows})

    def _send(self, form: dict[str, str]) -> Reply:
        required = ("goods_code", "tr_id", "phone_no", "callback_no", "mms_title", "mms_msg", "gubun")
        if any(not form.get(name) for name in required):
            return _answer("ERR0201", "필수 파라미터가 누락되었습니다")
        tr_id = form["tr_id"]
        if len(tr_id.encode("utf-8")) > 25:
            return _answer("ERR0807", "TR_ID가 25byte를 초과했습니다")
        if tr_id in self._coupons:
            return _answer("ERR0215", "TR ID가 중복되었습니다")
        phone = form["phone_no"]
        if not (phone.isdigit() and phone.startswith("01")) or phone.endswith("0000"):
            return _answer("ERR0817", "수신전화번호 오류")
        row = next((g for g in self._goods if g["goodsCode"] == form["goods_code"]), None)
        if row is None or row["goodsStateCd"] != "SALE":
            return _answer("ERR0401", "요청한 제품이 없습니다")
        price = int(row["discountPrice"])
        if self.biz_money < price:
            return _answer("E0010", "비즈머니 잔액이 부족합니다")
        self.biz_money -= price
        coupon = Coupon(
            tr_id=tr_id,
            goods_code=row["goodsCode"],
            phone=phone,
            order_no=f"2025{secrets.randbelow(10**12):012d}",
            pin_no=f"{secrets.randbelow(10**12):012d}",
            price=price,
        )
        self._coupons[tr_id] = coupon
        result = {"orderNo": coupon.order_no, "pinNo": coupon.pin_no, "couponImgUrl": "https://img.example/c.jpg"}
        return _answer("0000", result={"code": "0000", "message": None, "result": result})

    def _coupon_info(self, form: dict[str, str]) -> Reply:
        coupon = self._coupons.get(form.get("tr_id", ""))
        infos = []
        if coupon is not None:
            row = next((g for g in self._goods if g["goodsCode"] == coupon.goods_code), {})
            infos.append(
                {
                    "goodsCd": coupon.goods_code,
                    "goodsNm": row.get("goodsName", ""),
                    "brandNm": row.get("brandName", ""),
                    "pinStatusCd": coupon.pin_status,
                    "pinStatusNm": {"01": "발행", "07": "구매취소(폐기)"}.get(coupon.pin_status, ""),
                    "sellPriceAmt": str(coupon.price),
                    "recverTelNo": coupon.phone[:3] + "****" + coupon.phone[-4:],
                    "sendStatusCd": "1000",
                    "validPrdEndDt": coupon.valid_until,
                }
            )
        return _answer("0000", result=[{"resCode": "0000", "resMsg": "정상처리", "couponInfoList": infos}])

    def _cancel(self, form: dict[str, str]) -> Reply:
        coupon = self._coupons.get(form.get("tr_id", ""))
        if coupon is None:
            return _answer("ERR0805", "쿠폰취소 실패")
        if coupon.pin_status == "07":
            return _answer("ERR0808", "이미 취소된 쿠폰")
        coupon.pin_status = "07"
        self.biz_money += coupon.price
        return _answer("0000")


def main() -> None:
    parser = base.standalone_arguments(__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--auth-code", default=AUTH_CODE)
    parser.add_argument("--auth-token", default=AUTH_TOKEN)
    parser.add_argument("--user-id", default=USER_ID)
    args = parser.parse_args()
    fake = FakeGiftishowServer(args.auth_code, args.auth_token, args.user_id, host=args.host, port=args.port)
    fake.limit_rate(args.requests_per_second)
    base.serve_standalone(fake)


if __name__ == "__main__":
    main()

"""Where every item lives in the single table. Only the store builds keys; a new item type is a line here.

  pk / sk                                      item                         sparse index entries
  ACCOUNT#{a} / PROFILE                        account
  ACCOUNT#{a} / BALANCE                        credits, counts, open charges (versioned compare-and-set)
  ACCOUNT#{a} / ALERTS                         low-balance thresholds
  ACCOUNT#{a} / LEDGER#{entry}                 ledger entry (ids sort by time)
  ACCOUNT#{a} / TOPUP#{reference}              settled top-up reference and amount (credits once)
  ACCOUNT#{a} / CHARGE#{charge}                counts bought with credits
  ACCOUNT#{a} / IDEMPOTENCY#{operation}#{key}  id bound to an Idempotency-Key (TTL)
  ACCOUNT#{a} / OUTBOX#{event}                 event not yet published      gsi2 OUTBOX / {created_at}#{event}
  ACCOUNT#{a} / WISH#{gift}                    wishlist entry
  ACCOUNT#{a} / WEBHOOK#{w}                    webhook (secret encrypted)
  ACCOUNT#{a} / WEBHOOKS                       how many webhooks the account has (the limit's counter)
  ACCOUNT#{a}#WEBHOOK#{w} / DELIVERY#{d}       one event for one webhook    gsi2 WEBHOOK_DUE / {due}#{d} (pending)
  ACCOUNT#{a} / PROMOTION#{p}                  promotion
  ACCOUNT#{a} / {kind}_SEND#{send}             send                         gsi1 ACCOUNT#{a}#{kind}_SENDS#{p} / {send}
                                                                            gsi2 DISPATCH / {due}#{send} (to start)
  ACCOUNT#{a}#PROMOTION#{p}#WINNERS / {draw}#{n}  up to 50 winners of a draw
  SEND#{send} / BATCH#{n}                      recipients of a send         gsi1 SEND#{send}#RESENDABLE / BATCH#{n}
                                                                            gsi2 RETRY / {retry_at}#{send}#{n}
  ACCOUNT#{a}#RATE / {window_start_ms}        requests in one fair-use window (TTL)
  APIKEY#{sha256} / APIKEY                     account key lookup
  CATALOG / GIFT#{gift}                        gift catalog entry

Numbers in keys ({n}) are five digits, so key order is numeric order. SANDBOX_PROVIDER#... items belong to the
sandbox providers (shared.adapters.gift_provider, shared.adapters.notification_delivery).
"""

from __future__ import annotations

from datetime import datetime

from shared.domain.clock import to_rfc3339
from shared.models.common import SendKind

Key = tuple[str, str]

CATALOG = "CATALOG"
GIFT = "GIFT#"
LEDGER = "LEDGER#"
CHARGE = "CHARGE#"
WISH = "WISH#"
PROMOTION = "PROMOTION#"
BATCH = "BATCH#"
DISPATCH = "DISPATCH"
RETRY = "RETRY"
OUTBOX = "OUTBOX"
WEBHOOK = "WEBHOOK#"
DELIVERY = "DELIVERY#"
WEBHOOK_DUE = "WEBHOOK_DUE"


def account(account_id: str) -> str:
    return f"ACCOUNT#{account_id}"


def profile(account_id: str) -> Key:
    return account(account_id), "PROFILE"


def balance(account_id: str) -> Key:
    return account(account_id), "BALANCE"


def alerts(account_id: str) -> Key:
    return account(account_id), "ALERTS"


def ledger_entry(account_id: str, entry_id: str) -> Key:
    return account(account_id), f"{LEDGER}{entry_id}"


def top_up(account_id: str, reference: str) -> Key:
    return account(account_id), f"TOPUP#{reference}"


def charge(account_id: str, charge_id: str) -> Key:
    return account(account_id), f"{CHARGE}{charge_id}"


def claim(account_id: str, operation: str, idempotency_key: str) -> Key:
    return account(account_id), f"IDEMPOTENCY#{operation}#{idempotency_key}"


def outbox(account_id: str, event_id: str) -> Key:
    return account(account_id), f"{OUTBOX}#{event_id}"


def outbox_due(created_at: datetime, event_id: str) -> str:
    return f"{to_rfc3339(created_at)}#{event_id}"


def wish(account_id: str, gift_id: str) -> Key:
    return account(account_id), f"{WISH}{gift_id}"


def promotion(account_id: str, promotion_id: str) -> Key:
    return account(account_id), f"{PROMOTION}{promotion_id}"


def winners(account_id: str, promotion_id: str) -> str:
    return f"{account(account_id)}#{PROMOTION}{promotion_id}#WINNERS"


def winner_chunk(draw_id: str, chunk_no: int) -> str:
    return f"{draw_id}#{chunk_no:05d}"


def sends(kind: SendKind) -> str:
    return f"{kind}_SEND#"


def send(account_id: str, kind: SendKind, send_id: str) -> Key:
    return account(account_id), f"{sends(kind)}{send_id}"


def sends_of_promotion(account_id: str, kind: SendKind, promotion_id: str) -> str:
    return f"{account(account_id)}#{kind}_SENDS#{promotion_id}"


def send_due(moment: datetime, send_id: str) -> str:
    return f"{to_rfc3339(moment)}#{send_id}"


def batch(send_id: str, batch_no: int) -> Key:
    return f"SEND#{send_id}", f"{BATCH}{batch_no:05d}"


def resendable_batches(send_id: str) -> str:
    return f"SEND#{send_id}#RESENDABLE"


def batch_retry_due(moment: datetime, send_id: str, batch_no: int) -> str:
    return f"{to_rfc3339(moment)}#{send_id}#{batch_no:05d}"


def due_by(moment: datetime) -> str:
    """The upper bound of index entries due at `moment` (every `{time}#...` at or before it)."""
    return f"{to_rfc3339(moment)}#~"


def request_window(account_id: str, start_ms: int) -> Key:
    # Its own partition: a flooding account's counter stays off the partition with its balance and sends.
    return f"{account(account_id)}#RATE", str(start_ms)


def api_key(api_key_hash: str) -> Key:
    return f"APIKEY#{api_key_hash}", "APIKEY"


def gift(gift_id: str) -> Key:
    return CATALOG, f"{GIFT}{gift_id}"


def webhook(account_id: str, webhook_id: str) -> Key:
    return account(account_id), f"{WEBHOOK}{webhook_id}"


def webhook_count(account_id: str) -> Key:
    return account(account_id), "WEBHOOKS"


def deliveries(account_id: str, webhook_id: str) -> str:
    return f"{account(account_id)}#{WEBHOOK}{webhook_id}"


def delivery(account_id: str, webhook_id: str, delivery_id: str) -> Key:
    return deliveries(account_id, webhook_id), f"{DELIVERY}{delivery_id}"


def delivery_due(moment: datetime, delivery_id: str) -> str:
    return f"{to_rfc3339(moment)}#{delivery_id}"

"""The key of one recipient attempt: which send, batch and recipient, and which resend round.

Every provider call for that attempt carries it (as an idempotency key, a ``tr_id`` derived from it, a message tag
or custom field), and every delivery report names it, so a report finds its recipient without an index and a report
about an earlier round is recognised as such. Only ASCII letters, digits, ``_`` and ``-``: it fits an SES tag.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_PATTERN = re.compile(r"(?P<send_id>[a-z]+_[0-9a-f]+)-(?P<batch_no>\d+)-(?P<rid>r\d{5})-(?P<round>\d+)")


@dataclass(frozen=True)
class RecipientAttempt:
    send_id: str
    batch_no: int
    rid: str
    round: int

    @property
    def key(self) -> str:
        return f"{self.send_id}-{self.batch_no}-{self.rid}-{self.round}"

    @classmethod
    def parse(cls, key: str) -> RecipientAttempt | None:
        match = _PATTERN.fullmatch(key)
        if match is None:
            return None
        return cls(match["send_id"], int(match["batch_no"]), match["rid"], int(match["round"]))

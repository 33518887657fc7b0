"""Text rules every free-text field of a request shares: no emoji, no control characters but line breaks and tabs."""

from __future__ import annotations

import unicodedata

import emoji

_ALLOWED_CONTROLS = {"\n", "\r", "\t"}


def contains_emoji(text: str) -> bool:
    return emoji.emoji_count(text) > 0


def contains_control_characters(text: str) -> bool:
    return any(unicodedata.category(ch) == "Cc" and ch not in _ALLOWED_CONTROLS for ch in text)

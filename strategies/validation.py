"""Rules every key and value must pass before a request touches the cache or the database."""

from __future__ import annotations

import unicodedata

MAX_KEY_CHARS = 200
MAX_VALUE_BYTES = 64 * 1024
ORDINARY_WHITESPACE = frozenset("\t\n\r")


class InvalidInput(ValueError):
    """A key or value breaks one of the lab's input rules; nothing was touched."""


def _check_text(text: object, what: str) -> str:
    if not isinstance(text, str):
        raise InvalidInput(f"The {what} must be text, not {type(text).__name__}.")
    if text.isprintable():   # the common case: no control characters, no lone surrogates
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput(f"The {what} is not valid Unicode (it contains a lone surrogate).") from None
    for position, char in enumerate(text, start=1):
        if char not in ORDINARY_WHITESPACE and unicodedata.category(char) == "Cc":
            raise InvalidInput(
                f"The {what} contains a control character (U+{ord(char):04X}) at position {position}; "
                "only ordinary whitespace (space, tab, newline) is allowed."
            )
    return text


def validate_key(key: object) -> str:
    """Return the key unchanged if it is usable, else raise InvalidInput naming the broken rule."""
    # Every request validates its key: the usual key (printable text, not blank, not too long) passes this one
    # test; anything else goes through the rules one by one, to say which it breaks.
    if type(key) is str and key.isprintable() and 0 < len(key) <= MAX_KEY_CHARS and not key.isspace():
        return key
    key = _check_text(key, "key")
    if not key.strip():
        raise InvalidInput("The key is empty: type a key such as user:1.")
    if len(key) > MAX_KEY_CHARS:
        raise InvalidInput(f"The key is {len(key)} characters long; keys may have at most {MAX_KEY_CHARS}.")
    return key


def validate_value(value: object) -> str:
    """Return the value unchanged if it is usable, else raise InvalidInput naming the broken rule."""
    # UTF-8 takes at most 4 bytes a character, so printable text this short is within the limit without encoding it.
    if type(value) is str and len(value) <= MAX_VALUE_BYTES // 4 and value.isprintable():
        return value
    value = _check_text(value, "value")
    size = len(value.encode("utf-8"))
    if size > MAX_VALUE_BYTES:
        raise InvalidInput(
            f"The value is {size:,} bytes; values may have at most {MAX_VALUE_BYTES:,} bytes (64 KiB)."
        )
    return value

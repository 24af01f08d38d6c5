"""How many bytes a cached key takes, counted the way Redis 7.0 (with jemalloc) counts it, closely enough to say
"about": the lab's memory limit is measured with these functions.

One string key costs, in Redis 7.0 (`MEMORY USAGE key` reports the first three lines):

    24                              its entry in the keyspace's hash table (a dictEntry: key, value, next)
  + alloc(h + len(key) + 1)         the key's name, an sds string; h, its header: 1 byte under 32 bytes, 3 under 256,
                                    5 under 64 KiB, else 9
  + the value:
        16                          a whole number of at most 20 digits (stored in the object itself, "int")
        alloc(16 + 3 + len + 1)     up to 44 bytes ("embstr": the object and its string in one allocation)
        16 + alloc(h + len + 1)     longer ("raw": the object, and its string apart)
  + 24                              if the key has a TTL: its entry in the table of expiring keys

where alloc(n) rounds n up to jemalloc's size class (8, 16, 32, 48 … 128 in steps of 16, then four classes per
doubling: 160, 192, 224, 256, 320 …) and lengths are in UTF-8 bytes. On top of the keys, each of the two hash
tables (every key; the keys with a TTL) holds 8 bytes per bucket, its buckets the smallest power of two that is at
least its number of keys (at least 4).

What this leaves out, and why the lab says "about": the learner's key is counted under the name the Cache table
shows (the lab's own prefix, `lab:{id}:…:kv:`, is left out, so every learner's lab counts the same); a hash table
that is being resized holds both its tables for a while, and Redis shrinks one only once it is nine tenths empty;
Redis 7.0 shares the numbers 0 to 9999 under some policies; and what the parts keep beside the cached keys is not
counted at all (in Redis it takes memory too): the write-behind queue and its pending index, cache-aside's leases,
early refresh's δ hashes (`early:<key>`), and the near caches' Pub/Sub channel and tracking table (no keys: the
channel is a name, its messages pass through client buffers). Nor is any of it ever evicted: the limit chooses
its victims among the Cache table's keys only (eviction.py), so a part's bookkeeping never vanishes under it (a
real Redis under `allkeys-*` could evict such a key too). tests/test_eviction.py compares `entry_bytes` with
`MEMORY USAGE` on a real server.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..state import CacheItem

DICT_ENTRY = 24           # sizeof(dictEntry): key, value, next
ROBJ = 16                 # sizeof(robj): type, encoding, lru (24 bits), refcount, ptr
EMBSTR_LIMIT = 44         # OBJ_ENCODING_EMBSTR_SIZE_LIMIT
BUCKET = 8                # a hash table bucket: one pointer
MIN_BUCKETS = 4           # DICT_HT_INITIAL_SIZE
LONG_DIGITS = 20          # a value longer than this is never stored as a number
KB = 1024                 # a memory bar speaks in KB (of 1,024 bytes, as Redis' "1kb") from 4 KB on


def alloc(size: int) -> int:
    """The bytes jemalloc hands out for a request of `size` bytes (its size class)."""
    if size <= 8:
        return 8
    if size <= 128:
        return -(-size // 16) * 16
    step = (1 << ((size - 1).bit_length() - 1)) // 4      # four classes per doubling
    return -(-size // step) * step


def sds_header(length: int) -> int:
    """The header of an sds string of `length` bytes: sdshdr5 under 32 bytes, then sdshdr8, 16, 32, 64."""
    if length < 32:
        return 1
    if length < 1 << 8:
        return 3
    if length < 1 << 16:
        return 5
    return 9 if length < 1 << 32 else 17


def is_long(text: str) -> bool:
    """Whether Redis stores `text` as a number (string2ll): optional minus, no leading zero, fits 64 bits."""
    if not text or len(text) > LONG_DIGITS:
        return False
    digits = text[1:] if text[0] == "-" else text
    if not digits.isascii() or not digits.isdigit() or (digits[0] == "0" and text != "0"):
        return False
    return -(1 << 63) <= int(text) < 1 << 63


def value_bytes(value: str) -> int:
    """The bytes a string value's object takes: a number, an embedded string, or an object and its string."""
    if is_long(value):
        return ROBJ
    size = len(value.encode("utf-8"))
    if size <= EMBSTR_LIMIT:
        return alloc(ROBJ + 3 + size + 1)
    return ROBJ + alloc(sds_header(size) + size + 1)


def entry_bytes(key: str, value: str, *, ttl: bool) -> int:
    """One cached key: its hash table entry, its name, its value and, with a TTL, its entry among expiring keys."""
    size = len(key.encode("utf-8"))
    return DICT_ENTRY + alloc(sds_header(size) + size + 1) + value_bytes(value) + (DICT_ENTRY if ttl else 0)


def table_bytes(keys: int) -> int:
    """A hash table's buckets for `keys` keys: the smallest power of two at least as large (at least 4), 8 bytes
    each; an empty table has none."""
    if keys <= 0:
        return 0
    return BUCKET * max(MIN_BUCKETS, 1 << (keys - 1).bit_length())


def item_bytes(key: str, item: CacheItem) -> int:
    return entry_bytes(key, item.value, ttl=item.expires_at is not None)


def used_memory(cache: Mapping[str, CacheItem]) -> int:
    """What the lab counts for a Cache table: every key, and the two hash tables' buckets."""
    timed = sum(1 for item in cache.values() if item.expires_at is not None)
    return sum(item_bytes(key, item) for key, item in cache.items()) + table_bytes(len(cache)) + table_bytes(timed)


def amounts(used: int, limit: int) -> str:
    """Used of a limit as a memory bar says it: in bytes under 4 KB, as the step narration does ("432 of 512 bytes");
    from there in KB, rounded ("about 3.1 KB of 8 KB")."""
    if limit < 4 * KB:
        return f"{used:,} of {limit:,} bytes"
    return f"about {kilobytes(used)} of {kilobytes(limit)}"


def kilobytes(size: int) -> str:
    """`size` bytes in KB: one decimal under 100 KB (none when it is 0), whole numbers above."""
    value = size / KB
    if value >= 100:
        return f"{value:,.0f} KB"
    return f"{value:.1f}".removesuffix(".0") + " KB"

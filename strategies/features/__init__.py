"""The features patterns switch on, each a part of its own (`strategies.part.Part`): leases and negative caching
for cache-aside, the write-behind queue and its flusher. Their Lua scripts live beside them, as `.lua` files."""

from __future__ import annotations

from functools import cache
from pathlib import Path

HERE = Path(__file__).resolve().parent


@cache
def lua(name: str) -> str:
    """The source of `<name>.lua`, beside this file."""
    return (HERE / f"{name}.lua").read_text(encoding="utf-8")


def script(client, name: str):
    """`<name>.lua` registered on `client` (redis-py runs it by EVALSHA, loading it again if the server lost it)."""
    return client.register_script(lua(name))

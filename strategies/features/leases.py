"""Leases ("Scaling Memcache at Facebook", NSDI '13, §3.2.1): a reader that misses must hold the key's lease to
fill it, which stops stale sets and stampedes.

read miss:  App → Cache LEASE (lease_acquire.lua: if the key is still missing, SET lease:key token NX, where a
                               lease whose simulated end has passed counts as free)
            ├ granted → App → Database SELECT, Database → App row,
            │           App → Cache SET (lease_fill.lua: only if lease:key still holds my token: SET key, DEL lease)
            │           ├ accepted: cached                    └ refused: a write voided the lease, nothing cached
            │           no row → App → Cache DEL lease:key (release), or "not found" under the lease (negative TTL)
            ├ busy (another reader holds it) → App → App WAIT, App → Cache GET again: a hit (Cache → App value), or
            │           a miss and LEASE again; after max_lease_waits waits, read the database, fill nothing
            └ the key arrived meanwhile (the holder filled it between our GET and LEASE) → Cache → App value
write:      App → Cache DEL key lease:key (invalidate, void the lease)
time:       Cache → Cache EXPIRE (a lease whose simulated time ran out is deleted when the clock passes it)

A reader that waited and then found the value in the cache counts as a hit: it never reached the database.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..cache import glob_escape, scan_keys
from ..faults import SCAN_COUNT
from ..knobs import Knob
from ..narration import explain_warning
from ..part import Part
from ..request import FAILED, REFUSED, Request, Steps
from ..state import NOT_FOUND_MARKER, Change, LabState, Lease
from ..trace import CACHE_SERVER, Trace
from ..views import TableView, lease_rows
from . import script

if TYPE_CHECKING:
    from ..cache_aside import CacheAside

GC_GRACE_MS = 60_000    # wall-clock PX beyond a lease's own length: Redis forgets an abandoned lease by itself


def parse_lease(stored: str) -> Lease:
    """A lease as Redis stores it ("<n>:<client>|<end in simulated ms>") as the tables show it."""
    token, _, ends = stored.rpartition("|")
    return Lease(token, token.partition(":")[2], int(ends) / 1000)


class Leases(Part):
    """The leases of one cache-aside lab; its knobs are the lab's (`leases`, `lease_seconds`, `lease_wait_ms`,
    `max_lease_waits`)."""

    heading = "part-leases"
    cache_tables = ("lease",)
    knobs = (Knob("leases", "Leases (memcache)", "toggle", False, "leases", help="leases-help"),)

    def __init__(self, lab: CacheAside) -> None:
        super().__init__(lab)
        self.prefix = f"{lab.namespace}lease:"
        self._acquire = script(lab.cache, "lease_acquire")
        self._fill = script(lab.cache, "lease_fill")
        self._release = script(lab.cache, "lease_release")
        self._tokens = 0                # tokens are numbered per lab, so a scenario replays identically

    def redis_key(self, key: str) -> str:
        return self.prefix + key

    # ---- the read miss -----------------------------------------------------------------------------
    def read_miss(self, t: Request, key: str) -> Steps:
        """A miss with leases on: take the key's lease and fill it, or wait for the holder's fill."""
        lab = self.lab
        self._tokens += 1
        token = f"{self._tokens}:{t.trace.client}"
        waits = 0
        while True:
            answer = yield from self._acquire_lease(t, key, token)
            if answer is FAILED:                # the cache stopped answering: read around it, fill nothing
                return (yield from lab.read_around(t, key))
            status, found = answer
            if status == 1:
                return (yield from self._load_under_lease(t, key, token))
            if status == 2:                     # the holder filled it between our GET and our LEASE
                t.trace.hit = True
                return (yield from lab.hit(t, key, found))
            if waits >= lab.max_lease_waits:    # bounded: rather read the database than wait forever
                yield from lab.reply(t, "App", "App", key, None, action="WAIT", command="give up waiting",
                                     note=("lease-give-up", {"waits": waits}))
                loaded = yield from lab.db_select(t, "App", key)
                return loaded.value if loaded else None
            waits += 1
            yield t.step("App", "App", "WAIT", key=key, command=f"wait {lab.lease_wait_ms:g} ms, then retry",
                         cost_ms=lab.lease_wait_ms,
                         note=("lease-wait", {"holder": parse_lease(found).client, "wait": lab.lease_wait_ms,
                                              "tries": waits, "limit": lab.max_lease_waits}))
            cached = yield from lab.cache_get(t, "App", key, tolerate=True)
            if cached is FAILED:
                return (yield from lab.read_around(t, key))
            if cached is not None:              # the holder's fill arrived while we waited
                t.trace.hit = True
                return (yield from lab.hit(t, key, cached))
            yield from lab.reply(t, "Cache", "App", key, None, command="(nil) still a miss", outcome="miss",
                                 note=lab.miss_note("lease-still-miss", key))

    def _acquire_lease(self, t: Request, key: str, token: str) -> Steps:
        lab = self.lab
        now = lab.clock.now()
        ends_ms = round((now + lab.lease_seconds) * 1000)
        keys = [lab.redis_key(key), self.redis_key(key)]
        args = [token, repr(now * 1000), ends_ms, ends_ms - round(now * 1000) + GC_GRACE_MS]
        lease = Lease(token, t.trace.client, ends_ms / 1000)
        return (yield from lab.cache_call(
            t, "App", "Cache", "LEASE", lambda: self._acquire(keys=keys, args=args),
            command=f"SET lease:{key} {token} NX (script)", key=key, tolerate=True,
            changes=lambda answer, _: self._acquired(key, lease, answer),
            note=lambda answer: self._acquire_note(lease, answer)))

    def _acquired(self, key: str, lease: Lease, answer: list) -> tuple[Change, ...]:
        status, found = answer
        state = self.lab.state
        if status == 1:
            return (Change("lease", key, state.lease.get(key), lease),)
        if status == 2:                         # the cache holds a value the lab may not have seen set
            correction = self.lab._correction(key, found)
            return (correction,) if correction else ()
        held = parse_lease(found)
        return () if state.lease.get(key) == held else (Change("lease", key, state.lease.get(key), held, "found"),)

    def _acquire_note(self, lease: Lease, answer: list) -> tuple[tuple, str]:
        status, found = answer
        if status == 1:
            return ("lease-granted", {"client": lease.client, "seconds": self.lab.lease_seconds}), "ok"
        if status == 2:
            return ("lease-key-arrived", None), "hit"
        return ("lease-busy", {"holder": parse_lease(found).client}), "miss"

    def _load_under_lease(self, t: Request, key: str, token: str) -> Steps:
        """We hold the lease: read the row, then fill only if the lease is still ours."""
        lab = self.lab
        loaded = yield from lab.db_select(t, "App", key)
        if loaded is None and not lab.negative_ttl:
            # Nothing to fill: hand the lease back at once, so readers waiting for it need not wait it out.
            yield from lab.cache_call(
                t, "App", "Cache", "DEL", lambda: self._release(keys=[self.redis_key(key)], args=[token]),
                command=f"DEL lease:{key} (release)", key=key, tolerate=True,
                changes=lambda released, _: self.gone(key, "released") if released else (),
                note=("lease-release", None))
            return None
        value, ttl = (loaded.value, lab.jitter.ttl()) if loaded else (NOT_FOUND_MARKER, lab.negative_ttl)
        version = loaded.version if loaded else None
        # With early refresh on, the holder's fill stores δ beside the key too (or drops what is left of it).
        early_keys, early_args, delta = (lab.early.fill_args(t, key, ttl) if loaded else None) or ([], [], None)
        filled = yield from lab.cache_call(
            t, "App", "Cache", "SET",
            lambda: self._fill(keys=[lab.redis_key(key), self.redis_key(key), *early_keys],
                               args=[token, value, ttl or 0, *early_args]),
            command=f"SET {key} {'…' if loaded else '∅'}{f' EX {ttl}' if ttl else ''} if lease {token} (script)",
            key=key, value=value if loaded else None, tolerate=True,
            changes=lambda ok, at: (lab.cached(key, value, ttl, version, at), *self.gone(key, "filled"),
                                    *(lab.early.stored(key, delta, ttl, at) if early_keys else ())) if ok else (),
            note=lambda ok: self._fill_note(ok, key, value, ttl), stores=((key, value, ttl or None),), refusable=True)
        if filled is FAILED:
            t.trace.degraded = True
            t.trace.warning = explain_warning("cache-aside-fill-failed")
        elif filled is REFUSED:                 # full: the script never ran, so the lease stands until its end
            t.trace.warning = explain_warning("fill-refused")
        # Refused or not, this is what the database held when we read it: the caller gets it; only the
        # cache is kept from storing a value a write may already have replaced.
        return loaded.value if loaded else None

    def _fill_note(self, ok: int, key: str, value: str, ttl: int | None) -> tuple[tuple, str]:
        if not ok:
            return self._refusal(key), "ok"
        row = self.lab.state.db.get(key)
        if (row.value if row else NOT_FOUND_MARKER) != value:
            # The lease stood, but a write has committed since the SELECT and not yet deleted the key: the
            # value stored is already behind the database (the write's DEL is still to come).
            name = "lease-fill-negative-behind" if value == NOT_FOUND_MARKER else "lease-fill-behind"
            return (name, {"newer": row.value if row else None}), "ok"
        if value == NOT_FOUND_MARKER:
            return ("lease-fill-negative", {"ttl": ttl}), "ok"
        return ("lease-fill", {"ttl": ttl}) if ttl else ("lease-fill-forever", None), "ok"

    def _refusal(self, key: str) -> tuple[str, dict | None]:
        """Why the fill was refused, from the tables: another reader holds the lease now, or the last change to
        it was a write's DEL, its time running out (perhaps taken and filled by another since), or a cache that
        lost it."""
        lab = self.lab
        holder = lab.state.lease.get(key)
        if holder is not None:
            return "lease-fill-refused-taken", {"holder": holder.client}
        why = next((change.why for step in reversed(lab.history) for change in step.changes
                    if change.table == "lease" and change.key == key and change.after is None), None)
        if why == "voided":
            return "lease-fill-refused", None
        if why in ("expired", "filled", "released"):
            return "lease-fill-refused-expired", None
        return "lease-fill-refused-lost", None

    def gone(self, key: str, why: str) -> tuple[Change, ...]:
        """The change that removes `key`'s lease from the table (filled, released, voided, expired), if held."""
        held = self.lab.state.lease.get(key)
        return (Change("lease", key, held, None, why),) if held is not None else ()

    # ---- the write: its DEL voids the lease ---------------------------------------------------------
    def invalidate(self, t: Request, key: str) -> Steps:
        """DEL key lease:key in one call: the next read loads the new value, and a lease holder's late fill of
        what it read before this write is refused."""
        lab = self.lab

        def changes(*_: object) -> tuple[Change, ...]:
            item = lab.state.cache.get(key)
            cached = (Change("cache", key, item, None, "deleted"),) if item is not None else ()
            return cached + self.gone(key, "voided")

        return (yield from lab.cache_call(
            t, "App", "Cache", "DEL", lambda: lab.cache.delete(lab.redis_key(key), self.redis_key(key)),
            command=f"DEL {key} lease:{key}", key=key, tolerate=True, changes=changes,
            note=lambda _: (("cache-aside-del-lease" if key in lab.state.cache else "cache-aside-del-lease-nothing",
                             None), "ok")))

    # ---- time: a lease runs out on the lab's clock --------------------------------------------------
    def due_at(self) -> float | None:
        leases = self.lab.state.lease
        return min(lease.expires_at for lease in leases.values()) if leases else None

    def tick(self) -> Trace | None:
        """Delete the leases whose simulated time ran out (the acquire script already ignores them; this keeps
        the lease table, and Redis, free of leases nobody holds any more)."""
        lab = self.lab
        now = lab.clock.now()
        due = [(key, lease) for key, lease in lab.state.lease.items() if lease.expires_at <= now]
        if not due:
            return None
        for key, lease in due:
            lab.quietly(lambda key=key, lease=lease: self._release(keys=[self.redis_key(key)], args=[lease.token]))
        t = Request(lab, lab.new_trace("expiry", due[0][0] if len(due) == 1 else None, client=CACHE_SERVER))
        for key, lease in due:
            t.step("Cache", "Cache", "EXPIRE", key=key, command=f"lease on {key} ran out",
                   changes=(Change("lease", key, lease, None, "expired"),),
                   note=("lease-expired", {"holder": lease.client}))
        return lab.finished(t.trace)

    # ---- the tables ---------------------------------------------------------------------------------
    def read_real(self, real: LabState) -> None:
        cache = self.lab.cache
        names = sorted(scan_keys(cache, glob_escape(self.prefix) + "*", namespace=self.lab.namespace,
                                 count=SCAN_COUNT))
        for name, stored in zip(names, cache.mget(names) if names else [], strict=True):
            if stored is not None:
                real.lease[name[len(self.prefix):]] = parse_lease(stored)

    def reset(self) -> None:
        self._tokens = 0

    def views(self) -> tuple[TableView, ...]:
        return (TableView("Leases", "lease", lease_rows, shown=lambda state: self.lab.leases or bool(state.lease)),)

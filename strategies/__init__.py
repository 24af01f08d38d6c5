"""The simulation core of Cache Patterns Lab: four caching patterns on real Redis protocol and SQLite.

No Streamlit here. Each pattern performs real cache and database calls and records every step.
"""

from .cache import CacheUnavailable, backend_description, connect_cache
from .cache_aside import CacheAside
from .calls import CacheDown
from .clock import SimClock
from .database import Database, DatabaseUnavailable, Row
from .lab import Lab
from .read_through import ReadThrough
from .request import FAILED, Request
from .state import AckedWrite, CacheItem, Change, LabState, Lease, PendingWrite, QueueItem
from .trace import Costs, Counters, Step, Trace
from .validation import InvalidInput, validate_key, validate_value
from .write_behind import WriteBehind
from .write_through import WriteThrough

PATTERNS: dict[str, type[Lab]] = {
    lab.name: lab for lab in (CacheAside, ReadThrough, WriteThrough, WriteBehind)
}

__all__ = [
    "PATTERNS", "CacheAside", "ReadThrough", "WriteThrough", "WriteBehind", "Lab", "Request", "FAILED", "CacheDown",
    "AckedWrite", "CacheItem", "Change", "LabState", "Lease", "PendingWrite", "QueueItem", "Database",
    "DatabaseUnavailable", "Row",
    "InvalidInput", "validate_key", "validate_value", "connect_cache", "backend_description", "CacheUnavailable",
    "Costs", "Counters", "SimClock", "Step", "Trace",
]

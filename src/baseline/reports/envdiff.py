"""Which differences between two environment fingerprints make their latencies incomparable.

Only what moves latency counts: PostgreSQL version and settings, CPU model and count, the CPU placement, dataset
scale and seed, and the sample sizes of the config. Commit, time, ports, labels and database names always differ and are
ignored.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

# A flattened key matters when one of its segments matches this...
RELEVANT = re.compile(
    r"^(postgres\w*|pg|pg_\w*|server_version\w*|settings|cpu\w*|dataset\w*|scale|seed|samples|quick|warmup|"
    r"time_budget\w*|profile|profile_rate|services|workers|worker_concurrency|placement)$"
)
# ...and none of its segments is volatile.
VOLATILE = re.compile(r"^(pid|port|host|hostname|dsn|database|dbname|label|run|runs|\w+_at|service_threads)$")
# What a key a harness did not yet record meant: results from before CPU placement existed ran unpinned.
UNRECORDED = {"config.placement": "none", "placement.policy": "none", "placement.service": "left to the scheduler"}


def flatten(data: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Dotted paths to scalar leaves (lists kept whole)."""
    for key, value in data.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping):
            yield from flatten(value, f"{path}.")
        else:
            yield path, value


def _relevant(path: str) -> bool:
    parts = path.split(".")
    return any(RELEVANT.match(p) for p in parts) and not any(VOLATILE.match(p) for p in parts)


def differences(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[str]:
    """Human-readable `path: A != B` lines for every latency-relevant difference between two fingerprints."""
    left = _with_unrecorded(a or {})
    right = _with_unrecorded(b or {})
    return [
        f"{key}: {left.get(key, '(absent)')!r} != {right.get(key, '(absent)')!r}"
        for key in sorted(left.keys() | right.keys())
        if left.get(key) != right.get(key)
    ]


def _with_unrecorded(fingerprint: Mapping[str, Any]) -> dict[str, Any]:
    """The relevant leaves of a fingerprint, with what its harness left unrecorded filled in."""
    flat = {k: v for k, v in flatten(fingerprint) if _relevant(k)}
    if "config" not in fingerprint:  # not a whole fingerprint
        return flat
    return {**{k: v for k, v in UNRECORDED.items() if k not in flat}, **flat}

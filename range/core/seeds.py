"""Deterministic randomness: every random choice derives from (seed, team, purpose).

Python's ``hash()`` is salted per process; these derive from SHA-256 so that the same seed gives
byte-identical output on every run and machine, and another team gets other values.
"""
from __future__ import annotations

import hashlib
import random


def derive(*parts: object) -> int:
    h = hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(h[:8], "big")


def rng(*parts: object) -> random.Random:
    return random.Random(derive(*parts))


def team_seed(seed: int, team: str) -> int:
    """A team's own seed in a session or exercise of seed ``seed``: other addresses, names, timing."""
    return derive("team-seed", seed, team) % 1_000_000

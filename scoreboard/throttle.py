"""Failed logins, counted in memory per account and per client address.

One process serves the app (``cyberrange serve``: gunicorn, one worker, many threads), so the
counts live in that process: each app has its own :class:`Failures` (``app.extensions``). An
account, or a client address, that has failed ``limit`` logins within ``window`` seconds waits
until the oldest of those failures is ``window`` seconds old. A successful login forgets the
account's failures (not the address's: a team's own password must not reset a guesser's count).

Bounded: each key keeps at most its limit of timestamps, and at most ``max_keys`` keys are kept
(expired ones go first, then the least recently failed).
"""
from __future__ import annotations

import threading
import time
from collections import OrderedDict

Key = tuple[str, str]  # ("account", "main/blue") or ("address", "10.0.0.7")


class Failures:
    def __init__(self, max_keys: int = 10_000):
        self.max_keys = max_keys
        self._seen: OrderedDict[Key, list[float]] = OrderedDict()
        self._lock = threading.Lock()

    def locked(self, limits: dict[Key, int], window: float, now: float | None = None) -> dict[Key, float]:
        """The keys at their limit, each with the seconds until it is under it again."""
        now = time.monotonic() if now is None else now
        out = {}
        with self._lock:
            for key, limit in limits.items():
                recent = [t for t in self._seen.get(key, ()) if now - t < window]
                if limit > 0 and len(recent) >= limit:
                    out[key] = recent[-limit] + window - now
        return out

    def wait(self, limits: dict[Key, int], window: float, now: float | None = None) -> float:
        """Seconds until every key is under its limit again (0: a login may be tried now)."""
        return max(self.locked(limits, window, now).values(), default=0.0)

    def failed(self, limits: dict[Key, int], window: float, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        with self._lock:
            for key, limit in limits.items():
                recent = [t for t in self._seen.pop(key, ()) if now - t < window]
                self._seen[key] = (recent + [now])[-max(limit, 1):]  # newest last
            self._bound(now, window)

    def forget(self, key: Key) -> None:
        with self._lock:
            self._seen.pop(key, None)

    def __len__(self) -> int:
        return len(self._seen)

    def _bound(self, now: float, window: float) -> None:
        if len(self._seen) <= self.max_keys:
            return
        for key in [k for k, ts in self._seen.items() if not ts or now - ts[-1] >= window]:
            del self._seen[key]
        while len(self._seen) > self.max_keys:
            self._seen.popitem(last=False)  # the key that failed least recently

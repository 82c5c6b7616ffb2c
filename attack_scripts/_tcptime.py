"""When a :class:`range.traffic.TcpSession` puts its packets on the wire, computed ahead of time.

The offline :class:`range.traffic.Synth` spends a little time of its own on each message
(serialisation per segment, the receiver's ACK half a round trip later) and on the handshake and
teardown. Scripts that chain sessions (an FTP data connection opened after the ``227`` reply, a
new SSH connection once the previous one closed) or that must bound their step's duration use
these mirrors of its arithmetic instead of guessing.
"""
from __future__ import annotations

from typing import Callable, Iterable

from range.traffic import MSS, TcpSession


def _segments_time(n: int) -> float:
    t = 0.0
    off = 0
    while off < n:
        chunk = min(MSS, n - off)
        off += chunk
        t += 0.00002 * chunk / 100 + 0.00001
    return t


def message_times(a: TcpSession) -> list[float]:
    """For each message of a full-handshake session, the Synth's clock once it is sent and
    acknowledged: the next message's delay counts from there."""
    half = a.rtt / 2
    t = a.t + a.rtt
    out = []
    for delay, _side, data in a.messages:
        t += delay
        if data:
            t += _segments_time(len(data)) + half
        out.append(t)
    return out


def ready_time(a: TcpSession) -> float:
    """When the handshake is done and the first message may go (the client's ACK)."""
    return a.t + a.rtt


def session_end(a: TcpSession) -> float:
    """The time of the session's last packet (an upper bound for ``open`` sessions)."""
    if a.handshake != "full":
        return a.t + a.rtt + (2.0 ** a.syn_retries - 1 if a.handshake == "silent" else 0)
    times = message_times(a)
    t = times[-1] if times else a.t + a.rtt
    if a.close in ("client_fin", "server_fin"):
        return t + 0.0005 + a.rtt
    return t + 0.0005


def actions_end(actions: Iterable[TcpSession]) -> float:
    return max(session_end(a) for a in actions)


def fit(build: Callable[[float], list[TcpSession]], rng, t0: float, budget: float) -> list[TcpSession]:
    """Build a step's sessions with ``build(pace)`` and make sure they end within ``budget``
    seconds of ``t0``.

    ``build`` multiplies its think times and delays by ``pace`` (1.0 first). Should the result
    overrun (a rare draw of long delays), it is rebuilt from the same random state with every
    delay shrunk in proportion, so the step keeps its shape and its bound.
    """
    state = rng.getstate()
    pace = 1.0
    for _ in range(12):
        actions = build(pace)
        end = actions_end(actions)
        if end <= t0 + budget:
            return actions
        pace *= 0.97 * budget / max(end - t0, 1e-9)
        rng.setstate(state)
    raise RuntimeError(f"traffic does not fit in {budget:g}s even at pace {pace:.3f}")  # pragma: no cover

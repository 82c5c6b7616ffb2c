"""What a traffic script says to do on the wire: actions at the level a live client acts.

Techniques and benign generators describe traffic as *actions*: a TCP session (handshake outcome,
the bytes each side sends, how it closes), a UDP exchange, an ICMP echo exchange, or raw frames
(ARP, floods). Offline, :class:`range.traffic.synth.Synth` turns them into frames; live, the
actuator (:mod:`range.live.actuator`) carries them out with real sockets against real services.
"""
from __future__ import annotations

import email.utils
from dataclasses import dataclass, field
from typing import Literal, Union

from range.traffic import wire

FlowKey = tuple  # (src, dst, proto, sport, dport, src_mac)

Side = Literal["c", "s"]


@dataclass
class TcpSession:
    """One TCP connection from ``client`` to ``server:dport``.

    ``handshake``: ``full`` (3-way), ``half`` (SYN, SYN/ACK, client RST: a SYN scan finding an
    open port), ``refused`` (SYN, RST/ACK), ``silent`` (SYN only, retried ``syn_retries`` times).
    ``messages``: (delay after the previous event, side, bytes). ``close``: who closes and how.
    """
    t: float
    client: str
    server: str
    sport: int
    dport: int
    messages: list[tuple[float, Side, bytes]] = field(default_factory=list)
    handshake: Literal["full", "half", "refused", "silent"] = "full"
    close: Literal["client_fin", "server_fin", "client_rst", "server_rst", "open"] = "client_fin"
    rtt: float = 0.0008
    syn_options: bytes = wire.SYN_OPTIONS
    window: int = 64240
    syn_retries: int = 0


@dataclass
class UdpExchange:
    """Datagrams between ``client:sport`` and ``server:dport``: (delay, side, payload)."""
    t: float
    client: str
    server: str
    sport: int
    dport: int
    messages: list[tuple[float, Side, bytes]]


@dataclass
class IcmpEcho:
    """Echo requests from ``client`` (and replies unless ``answered`` is False)."""
    t: float
    client: str
    server: str
    ident: int
    payloads: list[tuple[float, bytes]]  # (delay, request payload)
    replies: list[bytes] | None = None  # reply payloads; None echoes the request
    answered: bool = True
    rtt: float = 0.0006


@dataclass
class RawFrames:
    """Finished frames with their flow keys (ARP, floods): (time, frame, key)."""
    frames: list[tuple[float, bytes, FlowKey]]


Action = Union[TcpSession, UdpExchange, IcmpEcho, RawFrames]


def ephemeral_port(rng) -> int:
    """A client source port from Linux's default ephemeral range."""
    return rng.randint(32768, 60999)


def http_date(ts: float) -> str:
    return email.utils.formatdate(ts, usegmt=True)

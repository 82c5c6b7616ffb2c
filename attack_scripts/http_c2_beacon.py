"""HTTP command-and-control beacon, MITRE ATT&CK T1071.001 Application Layer Protocol: Web Protocols.

Imitates a Cobalt Strike HTTP Beacon with the default Malleable C2 profile on a compromised
workstation: it resolves its C2 domain (a per-team name) through the office resolver, then checks
in every ``period`` seconds, each sleep shortened by a random amount up to ``jitter`` of it (CS's
``sleep 60 20``). Each check-in is a new connection and a WinINet-style ``GET`` of a fixed URI
(``/pixel.gif``) with the session metadata as a bare base64 ``Cookie`` (the same 172 characters
every time), a browser ``User-Agent``, the fake ``Host`` and ``Cache-Control: no-cache``. The team
server answers ``200`` ``application/octet-stream`` with no body when there is nothing to do, or
a small encrypted task (a multiple of 16 bytes plus its 16-byte HMAC); a task's output is then
``POST``\\ ed to ``/submit.php?id=<beacon id>`` as ``application/octet-stream``. Wireshark shows
evenly spaced, same-sized HTTP requests from one workstation to one outside address, with a
``Host`` that names no server of the office.
"""
from __future__ import annotations

import base64
from typing import Literal

from pydantic import Field, model_validator

from attack_scripts import _dns, _http
from range.core import Seconds, Strict
from range.traffic import StepContext, Technique, technique

UAS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; Trident/7.0; rv:11.0) like Gecko",
    "Mozilla/5.0 (compatible; MSIE 10.0; Windows NT 6.2; Win64; x64; Trident/6.0)",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/119.0.0.0 Safari/537.36 "
    "Edg/119.0.2151.97",
]

DNS_TTL = 300
CHECKIN_MAX = 0.5  # one connection to the C2 server, from SYN to the last FIN/ACK
TASK_RUN = (0.05, 2.0)  # running a task before posting its output
RESOLVE_MAX = 0.05
PER_CHECKIN = RESOLVE_MAX + CHECKIN_MAX + TASK_RUN[1] + CHECKIN_MAX


class Params(Strict):
    period: Seconds = Field(default=60, gt=0, le=86400, description="sleep between check-ins, seconds")
    jitter: float = Field(default=0.2, ge=0, lt=1, description="each sleep is shortened by a random share up to this")
    beacons: int | None = Field(default=None, ge=1, le=100000, description="number of check-ins (default 10)")
    duration: Seconds | None = Field(default=None, gt=0, le=86400, description="or: beacon for this long")
    uri: str = Field(
        default="/pixel.gif", max_length=200, pattern=r"^/[A-Za-z0-9._~/%-]*$", description="the check-in GET's URI"
    )
    post_uri: str = Field(
        default="/submit.php",
        max_length=200,
        pattern=r"^/[A-Za-z0-9._~/%-]*$",
        description="where task output is POSTed",
    )
    tasks: float = Field(default=0.15, ge=0, le=1, description="share of check-ins that receive a task")
    port: int = Field(default=80, ge=1, le=65535, description="the C2 server's HTTP port")
    resolve: bool = Field(default=True, description="look the C2 domain up through the environment's resolver")
    user_agent: str | None = Field(
        default=None, min_length=1, max_length=300, description="default: one browser UA per team"
    )
    mode: Literal["cobaltstrike"] = "cobaltstrike"

    @model_validator(mode="after")
    def _count_or_time(self) -> "Params":
        if self.beacons is not None and self.duration is not None:
            raise ValueError("give either beacons (a count) or duration (seconds), not both")
        if self.duration is not None and self.duration < PER_CHECKIN:
            raise ValueError(f"duration must leave room for one check-in (at least {PER_CHECKIN:g}s)")
        return self

    @property
    def count(self) -> int:
        return self.beacons if self.beacons is not None else 10


def _ciphertext(r, blocks: int) -> bytes:
    return r.randbytes(16 * blocks + 16)  # AES-CBC blocks + HMAC-SHA256/128


@technique
class HttpC2Beacon(Technique):
    name = "http_c2_beacon"
    attack = "T1071.001"
    tactic = "command-and-control"
    summary = "an implant on a workstation beaconing to its C2 server over HTTP with sleep and jitter"
    Params = Params
    min_targets = 1
    max_targets = 1
    target_services = ()

    def duration(self, p: Params) -> float:
        if p.duration is not None:
            return float(p.duration)
        return (p.count - 1) * p.period + p.count * PER_CHECKIN + 1.0

    def generate(self, ctx: StepContext):
        p: Params = ctx.params
        r = ctx.rng
        me, c2 = ctx.source, ctx.targets[0]
        domain = ctx.names.domain()
        host = domain if p.port == 80 else f"{domain}:{p.port}"
        ua = p.user_agent or r.choice(UAS)
        beacon_id = r.randrange(100000000, 2000000000, 2)
        metadata = base64.b64encode(r.randbytes(128)).decode()
        rtt = r.uniform(0.02, 0.09)  # the C2 server is somewhere on the internet
        limit = ctx.t0 + self.duration(p)
        resolved_at: float | None = None
        t = ctx.t0
        n = 0
        while True:
            if p.duration is None and n >= p.count:
                break
            if p.duration is not None and t + PER_CHECKIN > limit:
                break
            n += 1
            if p.resolve and ctx.dns_server is not None and (resolved_at is None or t - resolved_at >= DNS_TTL):
                lat = r.uniform(0.001, 0.03)
                yield _dns.lookup(
                    r, t, me.ip, ctx.dns_server.ip, domain, "A", [(domain, "A", c2.ip, DNS_TTL)], latency=lat
                )
                resolved_at = t
                t += lat + r.uniform(0.0005, 0.003)
            conn = _http.Conn(t, me.ip, c2.ip, _http.windows_port(r), dport=p.port, rtt=rtt)
            task = r.random() < p.tasks
            get = _http.request(
                "GET",
                p.uri,
                [
                    ("Accept", "*/*"),
                    ("Cookie", metadata),
                    ("User-Agent", ua),
                    ("Host", host),
                    ("Connection", "Keep-Alive"),
                    ("Cache-Control", "no-cache"),
                ],
            )
            body = _ciphertext(r, r.randint(2, 12)) if task else b""
            conn.exchange(
                get,
                lambda w, b=body: _http.response(
                    200,
                    [
                        ("Date", _http.http_date(w)),
                        ("Content-Type", "application/octet-stream"),
                        ("Content-Length", str(len(b))),
                    ],
                    b,
                ),
                0.0,
                r.uniform(0.002, 0.02),
            )
            yield conn.session()
            end = conn.end
            if task:
                t2 = conn.end + r.uniform(*TASK_RUN)
                out = _ciphertext(r, r.randint(3, 180))
                data = len(out).to_bytes(4, "big") + out
                post = _http.request(
                    "POST",
                    f"{p.post_uri}?id={beacon_id}",
                    [
                        ("Accept", "*/*"),
                        ("Content-Type", "application/octet-stream"),
                        ("User-Agent", ua),
                        ("Host", host),
                        ("Content-Length", str(len(data))),
                        ("Connection", "Keep-Alive"),
                        ("Cache-Control", "no-cache"),
                    ],
                    data,
                )
                pc = _http.Conn(t2, me.ip, c2.ip, _http.windows_port(r), dport=p.port, rtt=rtt)
                pc.exchange(
                    post,
                    lambda w: _http.response(
                        200, [("Date", _http.http_date(w)), ("Content-Type", "text/html"), ("Content-Length", "0")]
                    ),
                    0.0,
                    r.uniform(0.002, 0.02),
                )
                yield pc.session()
                end = pc.end
            if end > limit:  # pragma: no cover - the bounds above are wrong
                raise RuntimeError(f"http_c2_beacon overran its duration ({end - ctx.t0:.3f}s > {limit - ctx.t0:.3f}s)")
            t = end + p.period * (1 - r.uniform(0, p.jitter))  # sleep, shortened by the jitter

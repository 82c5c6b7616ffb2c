"""DNS messages built with scapy's DNS layer (once per message, then carried as bytes).

Answers are ``(rrname, type, rdata, ttl)``: A/AAAA rdata an address, CNAME/PTR/NS a name, TXT a
list of character-strings (:func:`txt_strings` splits long text into 255-byte ones), MX a
``(preference, exchange)`` pair, NULL raw bytes (as iodine answers).
"""
from __future__ import annotations

from scapy.layers.dns import DNS, DNSQR, DNSRR, DNSRRMX

from range.traffic import UdpExchange, ephemeral_port

RCODES = {"NOERROR": 0, "SERVFAIL": 2, "NXDOMAIN": 3, "REFUSED": 5}


def query(txid: int, name: str, qtype: str = "A", rd: bool = True) -> bytes:
    """A query; ``rd=False`` for a resolver's iterative query to an authoritative server."""
    return bytes(DNS(id=txid, rd=int(rd), qd=DNSQR(qname=name, qtype=qtype)))


def response(txid: int, name: str, qtype: str, answers: list[tuple[str, str, object, int]] = (),
             rcode: str = "NOERROR", aa: bool = False, rd: bool = True, ra: bool = True) -> bytes:
    """``answers``: (rrname, type, rdata, ttl); TXT rdata is a list of strings, MX rdata a
    (preference, exchange) pair, NULL rdata bytes. An authoritative server answering a
    resolver sets ``aa`` and leaves ``ra`` (and the query's ``rd``) clear."""
    an = [DNSRRMX(rrname=n, preference=d[0], exchange=d[1], ttl=ttl) if t == "MX"
          else DNSRR(rrname=n, type=t, rdata=d, ttl=ttl) for n, t, d, ttl in answers]
    return bytes(DNS(id=txid, qr=1, aa=int(aa), rd=int(rd), ra=int(ra), rcode=RCODES[rcode],
                     qd=DNSQR(qname=name, qtype=qtype), an=an))


def txt_strings(text: str) -> list[str]:
    """TXT rdata for ``text``: character-strings of at most 255 bytes each."""
    return [text[i:i + 255] for i in range(0, len(text), 255)] or [""]


def lookup(rng, t: float, client: str, server: str, name: str, qtype: str = "A",
           answers: list[tuple[str, str, object, int]] = (), rcode: str = "NOERROR",
           latency: float | None = None, aa: bool = False) -> UdpExchange:
    """One query and its answer, as a resolver client sends it."""
    txid = rng.getrandbits(16)
    lat = latency if latency is not None else rng.uniform(0.0004, 0.03)
    return UdpExchange(t=t, client=client, server=server, sport=ephemeral_port(rng), dport=53, messages=[
        (0.0, "c", query(txid, name, qtype)),
        (lat, "s", response(txid, name, qtype, list(answers), rcode, aa)),
    ])

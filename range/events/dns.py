"""dns: a query and its response joined into one record (``answers``, ``rcode_name``,
``qtype_name``, ``rtt``), as Zeek's DNS log writes them; a query nobody answers leaves after
:data:`DNS_WAIT` seconds."""
from __future__ import annotations

from range.events.analyzer import Analyzer, flag, unescape
from range.events.conn import Conn
from range.events.tshark import F, as_int, every, first

DNS_WAIT = 10.0

QTYPES = {1: "A", 2: "NS", 5: "CNAME", 6: "SOA", 10: "NULL", 12: "PTR", 13: "HINFO", 15: "MX", 16: "TXT",
          28: "AAAA", 33: "SRV", 35: "NAPTR", 43: "DS", 46: "RRSIG", 47: "NSEC", 48: "DNSKEY", 64: "SVCB",
          65: "HTTPS", 99: "SPF", 251: "IXFR", 252: "AXFR", 255: "*", 257: "CAA"}
RCODES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED",
          6: "YXDOMAIN", 7: "YXRRSET", 8: "NXRRSET", 9: "NOTAUTH", 10: "NOTZONE"}
ANSWER_FIELDS = {1: "dns.a", 28: "dns.aaaa", 5: "dns.cname", 16: "dns.txt", 15: "dns.mx.mail_exchange",
                 12: "dns.ptr.domain_name", 2: "dns.ns"}
_ID = F["dns.id"]


def qtype_name(qtype: int | None) -> str | None:
    return QTYPES.get(qtype, str(qtype) if qtype is not None else None)


class Dns(Analyzer):
    service = "dns"
    fields = ("dns.id",)

    def __init__(self, emit):
        super().__init__(emit)
        self.pending: dict[tuple, dict] = {}


    def packet(self, p: list[str], ts: float, c: Conn, d: int) -> None:
        txid = as_int(p[_ID])
        name = first(p[F["dns.qry.name"]])
        key = (c.uid, txid, name)
        if flag(p[F["dns.flags.response"]]) != 1:
            self.pending[key] = self._query(p, ts, c, txid, name)
            return
        rec = self.pending.pop(key, None)
        if rec is None:  # a response whose query we did not see
            rec = c.ident()
            qtype = as_int(p[F["dns.qry.type"]])
            rec.update({"ts": ts, "proto": c.proto, "trans_id": txid, "query": name or None, "qtype": qtype,
                        "qtype_name": qtype_name(qtype), "RD": flag(p[F["dns.flags.recdesired"]]), "rejected": 0})
        rcode = as_int(p[F["dns.flags.rcode"]])
        answers, ttls = self._answers(p)
        rec.update({"rtt": round(ts - rec["ts"], 6), "rcode": rcode, "rcode_name": RCODES.get(rcode, str(rcode)),
                    "AA": flag(p[F["dns.flags.authoritative"]]), "TC": flag(p[F["dns.flags.truncated"]]),
                    "RA": flag(p[F["dns.flags.recavail"]]), "Z": as_int(p[F["dns.flags.z"]]) or 0,
                    "answers": ",".join(answers) or None, "TTLs": ",".join(ttls) or None,
                    "rejected": 1 if rcode == 5 else 0})
        self.emit("dns", rec)

    @staticmethod
    def _query(p: list[str], ts: float, c: Conn, txid, name: str) -> dict:
        qtype = as_int(p[F["dns.qry.type"]])
        qclass = as_int(p[F["dns.qry.class"]])
        rec = c.ident()
        rec.update({"ts": ts, "proto": c.proto, "trans_id": txid, "query": name or None, "qclass": qclass,
                    "qclass_name": "C_INTERNET" if qclass == 1 else (str(qclass) if qclass is not None else None),
                    "qtype": qtype, "qtype_name": qtype_name(qtype), "RD": flag(p[F["dns.flags.recdesired"]]),
                    "AA": 0, "TC": 0, "RA": 0, "Z": 0, "rejected": 0})
        return rec

    @staticmethod
    def _answers(p: list[str]) -> tuple[list[str], list[str]]:
        n = as_int(p[F["dns.count.answers"]]) or 0
        queues = {t: every(p[F[f]]) for t, f in ANSWER_FIELDS.items()}
        types = [int(t) for t in every(p[F["dns.resp.type"]])][:n]
        ttls = every(p[F["dns.resp.ttl"]])[:n]
        out = []
        for t in types:
            q = queues.get(t)
            if q:
                v = unescape(q.pop(0))
                out.append(f"TXT {len(v)} {v}" if t == 16 else v)
            else:
                out.append(f"<unknown type={t}>")
        return out, ttls

    def expire(self, now: float) -> None:
        """Emit DNS queries that never got an answer."""
        old = [k for k, r in self.pending.items() if now - r["ts"] >= DNS_WAIT]
        for k in old:
            self.emit("dns", self.pending.pop(k))

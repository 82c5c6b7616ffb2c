"""dns: queries and replies paired into records the way Zeek's DNS scripts pair them.

Per connection, a query waits (``pending_query``, then a queue per transaction id) for the reply
with its id; a reply nobody asked waits for its query. A pair is written when its second half
has been read; what is left when the connection ends (an unanswered query, a reply alone, a
second reply) is written then. ``ts`` is when the first half came, ``rtt`` the time to the first
answer. To a multicast group (mDNS, LLMNR) every message is a record of its own. Messages are
read by :mod:`range.events.dnswire`; NetBIOS names (udp/137) are decoded as Zeek does.
"""
from __future__ import annotations

import ipaddress
import struct

from range.events import dnswire
from range.events.analyzer import Analyzer
from range.events.dnswire import OP_NOTIFY, OP_QUERY, OP_UPDATE

OPCODES = (OP_QUERY, OP_NOTIFY, OP_UPDATE)
MAX_QUERIES = 25   # dns_max_queries: a message asking more is not read
MAX_PENDING = 50   # per transaction id, and ids: beyond it the waiting records are written as they are


def _multicast(addr: str) -> bool:
    try:
        return ipaddress.ip_address(addr).is_multicast
    except ValueError:
        return False


def _info(c, t: float, m) -> dict:
    return {"ts": t, "uid": c.uid, "id.orig_h": c.orig_h, "id.orig_p": c.orig_p, "id.resp_h": c.resp_h,
            "id.resp_p": c.resp_p, "proto": c.proto, "trans_id": m.id, "rtt": None, "query": None, "qclass": None,
            "qclass_name": None, "qtype": None, "qtype_name": None, "rcode": None, "rcode_name": None, "AA": 0,
            "TC": 0, "RD": 0, "RA": 0, "Z": 0, "answers": [], "TTLs": [], "rejected": 0, "_q": False, "_r": False}


class Dns(Analyzer):
    service = "dns"
    tcp_ports = frozenset({53})
    udp_ports = frozenset({53, 137, 5353, 5355})

    def __init__(self, conn, emit):
        super().__init__(conn, emit)
        self.first = True
        self.pending_query: dict | None = None
        self.queries: dict[int, list] = {}
        self.replies: dict[int, list] = {}
        self.buf = [b"", b""]
        self.netbios = 137 in (conn.orig_p, conn.resp_p)

    # ---- transport ------------------------------------------------------------------------------
    def datagram(self, is_orig: bool, t: float, payload: bytes) -> None:
        self.message(payload, is_orig, t)

    def data(self, is_orig: bool, t: float, data: bytes) -> None:
        d = 0 if is_orig else 1
        buf = self.buf[d] + data
        while len(buf) >= 2:
            n = struct.unpack("!H", buf[:2])[0]
            if len(buf) < 2 + n:
                break
            self.message(buf[2:2 + n], is_orig, t)
            buf = buf[2 + n:]
        self.buf[d] = buf

    def gap(self, is_orig: bool, n: int) -> None:
        self.buf[0 if is_orig else 1] = b""

    def flipped(self) -> None:
        self.buf.reverse()

    # ---- messages -------------------------------------------------------------------------------
    def message(self, payload: bytes, is_orig: bool, t: float) -> None:
        try:
            m = dnswire.parse(payload, self.netbios)
        except (dnswire.Bad, struct.error, ValueError):
            self.violation()
            return
        c = self.conn
        if m.opcode not in OPCODES and not self.netbios:
            c.weird_limit()  # DNS_unknown_opcode
            return
        if self.first:
            self.first = False
            if m.qr and is_orig and not _multicast(c.resp_h):
                c.flip()  # the first message is a reply from the originator: turn round
        if m.qdcount > MAX_QUERIES:
            self.violation()
            return
        self.confirm()
        if m.opcode not in OPCODES:
            return
        if _multicast(c.resp_h):
            info = _info(c, t, m)
            info["_q"] = info["_r"] = True
        else:
            info = self._session(m, t)
        self._fill(info, m, t)
        if m.qr:
            info["_r"] = True
        else:
            info["_q"] = True
        if info["_q"] and info["_r"]:
            self._write(info)
        self._limit()

    def _session(self, m, t: float) -> dict:
        """Zeek's set_session: the record this message belongs to."""
        c = self.conn
        if not m.qr:
            waiting = self.replies.get(m.id)
            if waiting:
                return waiting.pop(0)
            info = _info(c, t, m)
            if self.pending_query is None:
                self.pending_query = info
            else:
                self.queries.setdefault(m.id, []).append(info)
            return info
        pq = self.pending_query
        if pq is not None and pq["trans_id"] == m.id:
            self.pending_query = None
            q = self.queries.get(m.id) or next((v for v in self.queries.values() if v), None)
            if q:
                self.pending_query = q.pop(0)
            info = pq
        elif self.queries.get(m.id):
            info = self.queries[m.id].pop(0)
        else:
            info = _info(c, t, m)
            self.replies.setdefault(m.id, []).append(info)
        info["rcode"] = m.rcode
        info["rcode_name"] = dnswire.rcode_name(m.rcode)
        if m.rcode != 0 and m.qdcount == 0:
            info["rejected"] = 1
        return info

    def _fill(self, info: dict, m, t: float) -> None:
        if not m.qr:
            if m.opcode != OP_UPDATE or self.netbios:
                for name, qtype, qclass in m.questions:
                    self._request(info, m, name, qtype, qclass)
            return
        if m.questions and m.ancount == m.nscount == m.arcount == 0:
            info["rejected"] = 1
        for rr in m.records:
            if rr.text is None:
                continue
            if info["query"] is None:
                info["query"] = rr.name
            info["AA"], info["RA"] = int(m.aa), int(m.ra)
            if info["rtt"] is None and t - info["ts"] != 0:
                info["rtt"] = round(t - info["ts"], 6)
            if rr.text != "":
                info["answers"].append(rr.text)
                info["TTLs"].append(str(rr.ttl))

    def _request(self, info: dict, m, name: str, qtype: int, qclass: int) -> None:
        info.update({"RD": int(m.rd), "TC": int(m.tc), "qclass": qclass, "qclass_name": dnswire.qclass_name(qclass),
                     "qtype": qtype, "qtype_name": dnswire.qtype_name(qtype), "Z": m.z, "query": name})
        if self.conn.resp_p == 137:
            decoded = dnswire.netbios_name(name)
            if decoded:
                info["query"] = decoded
            if info["qtype_name"] == "SRV":
                info["qtype_name"] = "NBSTAT"

    def _write(self, info: dict) -> None:
        rec = {k: v for k, v in info.items() if not k.startswith("_")}
        rec["answers"] = ",".join(a.replace(",", "\\x2c") for a in rec["answers"]) or None
        rec["TTLs"] = ",".join(rec["TTLs"]) or None
        self.emit("dns", rec)

    def _limit(self) -> None:
        for table in (self.queries, self.replies):
            for k in list(table):
                if len(table[k]) > MAX_PENDING:
                    for info in table.pop(k):
                        self._write(info)
            if len(table) > MAX_PENDING:
                for k in list(table):
                    for info in table.pop(k):
                        self._write(info)

    def done(self) -> None:
        if self.pending_query is not None:
            self._write(self.pending_query)
        for table in (self.queries, self.replies):
            for infos in table.values():
                for info in infos:
                    self._write(info)
        self.pending_query = None
        self.queries, self.replies = {}, {}

"""Application-layer records, joined the way Zeek joins them.

dns: query and response into one record (``answers``, ``rcode_name``, ``qtype_name``, ``rtt``);
http: request and response into one (``method``, ``uri``, ``status_code``, ``resp_mime_types``);
ssh: one per session, with both banners, the negotiated algorithms and the authentication outcome
as far as it is visible in encrypted traffic; ftp: one per command with its final reply; telnet:
one per line typed or printed, with the user name and password seen at the login prompts.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from range.events.tshark import F, as_int, every, first

if TYPE_CHECKING:  # pragma: no cover
    from range.events.assembler import Conn

DNS_WAIT = 10.0
BODY_KEEP = 1024

QTYPES = {1: "A", 2: "NS", 5: "CNAME", 6: "SOA", 10: "NULL", 12: "PTR", 13: "HINFO", 15: "MX", 16: "TXT",
          28: "AAAA", 33: "SRV", 35: "NAPTR", 43: "DS", 46: "RRSIG", 47: "NSEC", 48: "DNSKEY", 64: "SVCB",
          65: "HTTPS", 99: "SPF", 251: "IXFR", 252: "AXFR", 255: "*", 257: "CAA"}
RCODES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED",
          6: "YXDOMAIN", 7: "YXRRSET", 8: "NXRRSET", 9: "NOTAUTH", 10: "NOTZONE"}
ANSWER_FIELDS = {1: "dns.a", 28: "dns.aaaa", 5: "dns.cname", 16: "dns.txt", 15: "dns.mx.mail_exchange",
                 12: "dns.ptr.domain_name", 2: "dns.ns"}
_ESC = {"\\r": "\r", "\\n": "\n", "\\t": "\t"}

Emit = Callable[[str, dict], None]


def _flag(v: str) -> int | None:
    v = first(v)
    if not v:
        return None
    return 1 if v in ("1", "True", "true") else 0


def _unescape(text: str) -> str:
    for k, v in _ESC.items():
        text = text.replace(k, v)
    return text


def _mime(v: str) -> str | None:
    v = first(v)
    return v.split(";", 1)[0].strip().lower() or None if v else None


class AppLayers:
    def __init__(self, emit: Emit):
        self.emit = emit
        self.dns_pending: dict[tuple, dict] = {}

    # ---- DNS --------------------------------------------------------------------------------
    def dns(self, p: list[str], ts: float, c: "Conn", d: int) -> None:
        txid = as_int(p[F["dns.id"]])
        name = first(p[F["dns.qry.name"]])
        key = (c.uid, txid, name)
        if _flag(p[F["dns.flags.response"]]) != 1:
            qtype = as_int(p[F["dns.qry.type"]])
            qclass = as_int(p[F["dns.qry.class"]])
            rec = c.ident()
            rec.update({"ts": ts, "proto": c.proto, "trans_id": txid, "query": name or None, "qclass": qclass,
                        "qclass_name": "C_INTERNET" if qclass == 1 else (str(qclass) if qclass is not None else None),
                        "qtype": qtype, "qtype_name": QTYPES.get(qtype, str(qtype) if qtype is not None else None),
                        "RD": _flag(p[F["dns.flags.recdesired"]]), "AA": 0, "TC": 0, "RA": 0, "Z": 0, "rejected": 0})
            self.dns_pending[key] = rec
            return
        rec = self.dns_pending.pop(key, None)
        if rec is None:  # a response whose query we did not see
            rec = c.ident()
            qtype = as_int(p[F["dns.qry.type"]])
            rec.update({"ts": ts, "proto": c.proto, "trans_id": txid, "query": name or None, "qtype": qtype,
                        "qtype_name": QTYPES.get(qtype, str(qtype) if qtype is not None else None),
                        "RD": _flag(p[F["dns.flags.recdesired"]]), "rejected": 0})
        rcode = as_int(p[F["dns.flags.rcode"]])
        answers, ttls = self._answers(p)
        rec.update({"rtt": round(ts - rec["ts"], 6), "rcode": rcode, "rcode_name": RCODES.get(rcode, str(rcode)),
                    "AA": _flag(p[F["dns.flags.authoritative"]]), "TC": _flag(p[F["dns.flags.truncated"]]),
                    "RA": _flag(p[F["dns.flags.recavail"]]), "Z": as_int(p[F["dns.flags.z"]]) or 0,
                    "answers": ",".join(answers) or None, "TTLs": ",".join(ttls) or None,
                    "rejected": 1 if rcode == 5 else 0})
        self.emit("dns", rec)

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
                v = _unescape(q.pop(0))
                out.append(f"TXT {len(v)} {v}" if t == 16 else v)
            else:
                out.append(f"<unknown type={t}>")
        return out, ttls

    # ---- HTTP -------------------------------------------------------------------------------
    def http(self, p: list[str], ts: float, c: "Conn", d: int) -> None:
        pending = c.app.setdefault("http", [])
        method = first(p[F["http.request.method"]])
        if method and d == 0:
            c.http_depth += 1
            body = _unescape(first(p[F["http.file_data"]]))
            clen = as_int(p[F["http.content_length"]])
            version = first(p[F["http.request.version"]])
            rec = c.ident()
            rec.update({"ts": ts, "trans_depth": c.http_depth, "method": method,
                        "host": first(p[F["http.host"]]) or None, "uri": first(p[F["http.request.uri"]]) or None,
                        "referrer": first(p[F["http.referer"]]) or None,
                        "version": version.split("/", 1)[-1] if version else None,
                        "user_agent": first(p[F["http.user_agent"]]) or None,
                        "cookie": first(p[F["http.cookie"]]) or None,
                        "request_body_len": clen if clen is not None else len(body),
                        "orig_mime_types": _mime(p[F["http.content_type"]]) if body else None,
                        "content_type": first(p[F["http.content_type"]]) or None,
                        "post_body": body[:BODY_KEEP] if body else None, "response_body_len": 0})
            pending.append(rec)
            return
        code = as_int(p[F["http.response.code"]])
        if code is None:
            return
        rec = pending.pop(0) if pending else {**c.ident(), "ts": ts, "trans_depth": c.http_depth}
        if 100 <= code < 200 and code != 101:
            pending.insert(0, rec)  # an interim response: the final one follows
            return
        clen = as_int(p[F["http.content_length"]])
        body = first(p[F["http.file_data"]])
        rec.update({"status_code": code, "status_msg": first(p[F["http.response.phrase"]]) or None,
                    "response_body_len": clen if clen is not None else len(_unescape(body)),
                    "resp_mime_types": _mime(p[F["http.content_type"]])})
        self.emit("http", rec)

    # ---- SSH --------------------------------------------------------------------------------
    def ssh(self, p: list[str], ts: float, c: "Conn", d: int, payload: int) -> None:
        s = c.app.setdefault("ssh", {"banner": [None, None], "kex": [None, None], "newkeys": [False, False],
                                     "auth": {"accept": None, "failure": None, "attempts": 0, "success": None}})
        banner = first(p[F["ssh.protocol"]])
        if banner:
            s["banner"][d] = _unescape(banner).strip()
        codes = [int(x) for x in every(p[F["ssh.message_code"]]) if x.isdigit()]
        if 20 in codes:
            s["kex"][d] = [first(p[F[f]]) for f in ("ssh.kex_algorithms", "ssh.server_host_key_algorithms",
                                                      "ssh.encryption_algorithms_client_to_server",
                                                      "ssh.mac_algorithms_client_to_server",
                                                      "ssh.compression_algorithms_client_to_server")]
        if 21 in codes:
            s["newkeys"][d] = True
        elif d == 1 and s["newkeys"][0] and payload and not banner and not codes:
            # the server's encrypted packets once the client has sent NEWKEYS (and with it its
            # SERVICE_REQUEST): earlier ones are the tail of the server's own NEWKEYS segment
            # (EXT_INFO, and the ECDH reply's continuation when it overflows a segment)
            self._ssh_auth(s["auth"], payload)

    @staticmethod
    def _ssh_auth(a: dict, size: int) -> None:
        """Zeek's inference of the authentication outcome from the sizes of the server's first
        encrypted packets (its SSH analyzer's ``ProcessEncrypted``): the first is
        ``SERVICE_ACCEPT``; ``USERAUTH_SUCCESS`` (one byte of payload) is 16 bytes shorter than it
        under every cipher OpenSSH offers; the first packet a little longer is the ``USERAUTH_FAILURE``
        that answers the ``none`` probe, and each later packet of that very size is a refused
        attempt. Packets of other sizes (``PK_OK``, a pre-auth banner) decide nothing."""
        if a["success"]:
            return
        if a["accept"] is None:
            a["accept"] = size
        elif a["failure"] is None:
            if size + 16 == a["accept"]:  # "none" accepted
                a["success"] = True
            elif a["accept"] < size + 16 and size < a["accept"] + 256:
                a["failure"] = size
        elif size == a["failure"]:
            a["attempts"] += 1
        elif size + 16 == a["accept"]:
            a["attempts"] += 1
            a["success"] = True

    def _ssh_record(self, c: "Conn") -> None:
        s = c.app["ssh"]
        rec = c.ident()
        client, server = s["banner"]
        rec.update({"version": 2 if (client or server or "").startswith("SSH-2") else 1 if client else None,
                    "client": client, "server": server, "direction": None})
        ck, sk = s["kex"]
        if ck and sk:
            names = ("kex_alg", "host_key_alg", "cipher_alg", "mac_alg", "compression_alg")
            for name, cl, sl in zip(names, ck, sk):
                offered = set(sl.split(","))
                rec[name] = next((a for a in cl.split(",") if a in offered), None)
        a = s["auth"]
        # as Zeek logs it: auth_success T once a success was seen, F when attempts were refused
        # and none succeeded, unset when the encrypted part never reached a decision
        if a["success"]:
            rec["auth_success"] = 1
        elif a["attempts"]:
            rec["auth_success"] = 0
        rec["auth_attempts"] = a["attempts"]
        self.emit("ssh", rec)

    # ---- FTP --------------------------------------------------------------------------------
    def ftp(self, p: list[str], ts: float, c: "Conn", d: int) -> None:
        s = c.app.setdefault("ftp", {"user": None, "password": None, "pending": []})
        cmds = every(p[F["ftp.request.command"]])
        if cmds and d == 0:
            args = every(p[F["ftp.request.arg"]])
            for i, cmd in enumerate(cmds):
                arg = _unescape(args[i]) if i < len(args) else None
                cmd = cmd.upper()
                if cmd == "USER":
                    s["user"] = arg
                elif cmd == "PASS":
                    s["password"] = arg
                s["pending"].append((ts, cmd, arg))
            return
        codes = every(p[F["ftp.response.code"]])
        msgs = every(p[F["ftp.response.arg"]])
        for i, code in enumerate(codes):
            code_i = int(code) if code.isdigit() else None
            if code_i is None or code_i < 200 or not s["pending"]:
                continue
            cts, cmd, arg = s["pending"].pop(0)
            rec = c.ident()
            rec.update({"ts": cts, "user": s["user"], "password": s["password"], "command": cmd, "arg": arg,
                        "reply_code": code_i, "reply_msg": _unescape(msgs[i]) if i < len(msgs) else None})
            self.emit("ftp", rec)

    # ---- Telnet -----------------------------------------------------------------------------
    def telnet(self, p: list[str], ts: float, c: "Conn", d: int) -> None:
        s = c.app.setdefault("telnet", {"buf": ["", ""], "user": None, "password": None, "expect": None, "t": [ts, ts]})
        for chunk in every(p[F["telnet.data"]]):
            if not s["buf"][d]:
                s["t"][d] = ts
            s["buf"][d] += _unescape(chunk)
            self._telnet_lines(c, s, d)

    def _telnet_lines(self, c: "Conn", s: dict, d: int, flush: bool = False) -> None:
        buf = s["buf"][d]
        while True:
            cut = min((i for i in (buf.find("\r"), buf.find("\n")) if i >= 0), default=-1)
            if cut < 0:
                break
            self._telnet_line(c, s, d, buf[:cut])
            buf = buf[cut + 1:].lstrip("\r\n\x00")
        tail = buf.rstrip()
        if d == 1 and tail.lower().endswith(("login:", "password:")):
            s["expect"] = "password" if tail.lower().endswith("password:") else "user"
            self._telnet_line(c, s, d, tail)
            buf = ""
        elif flush and buf.strip():
            self._telnet_line(c, s, d, buf)
            buf = ""
        s["buf"][d] = buf

    def _telnet_line(self, c: "Conn", s: dict, d: int, line: str) -> None:
        line = line.strip("\x00").rstrip()
        if not line:
            return
        if d == 0 and s["expect"] == "user":
            s["user"], s["expect"] = line, None
        elif d == 0 and s["expect"] == "password":
            s["password"], s["expect"] = line, None
        rec = c.ident()
        rec.update({"ts": s["t"][d], "direction": "orig" if d == 0 else "resp", "line": line[:BODY_KEEP],
                    "user": s["user"], "password": s["password"]})
        self.emit("telnet", rec)

    # ---- ending -----------------------------------------------------------------------------
    def finish(self, c: "Conn") -> None:
        """A connection ended: emit what waited for more (unanswered requests, session summaries)."""
        for rec in c.app.get("http", []):
            self.emit("http", rec)
        if "ssh" in c.app:
            self._ssh_record(c)
        if "telnet" in c.app:
            s = c.app["telnet"]
            for d in (0, 1):
                self._telnet_lines(c, s, d, flush=True)
        if "ftp" in c.app:
            s = c.app["ftp"]
            for cts, cmd, arg in s["pending"]:
                rec = c.ident()
                rec.update({"ts": cts, "user": s["user"], "password": s["password"], "command": cmd, "arg": arg})
                self.emit("ftp", rec)

    def expire(self, now: float) -> None:
        """Emit DNS queries that never got an answer."""
        old = [k for k, r in self.dns_pending.items() if now - r["ts"] >= DNS_WAIT]
        for k in old:
            self.emit("dns", self.dns_pending.pop(k))

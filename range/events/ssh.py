"""ssh: one record per session, with both banners, the negotiated algorithms and the
authentication outcome as far as it is visible in encrypted traffic (Zeek's inference from the
sizes of the server's first encrypted packets)."""
from __future__ import annotations

from range.events.analyzer import Analyzer, unescape
from range.events.conn import Conn
from range.events.tshark import F, as_int, every, first

_PROTO, _MSG, _TLEN = F["ssh.protocol"], F["ssh.message_code"], F["tcp.len"]
_KEX = ("ssh.kex_algorithms", "ssh.server_host_key_algorithms", "ssh.encryption_algorithms_client_to_server",
        "ssh.mac_algorithms_client_to_server", "ssh.compression_algorithms_client_to_server")


class Ssh(Analyzer):
    service = "ssh"
    fields = ("ssh.protocol", "ssh.message_code")

    def wants(self, p: list[str], c: Conn) -> bool:
        # once a connection speaks SSH, every packet counts: the encrypted ones carry no ssh fields
        return bool(p[_PROTO] or p[_MSG]) or "ssh" in c.services

    def packet(self, p: list[str], ts: float, c: Conn, d: int) -> None:
        s = c.app.setdefault("ssh", {"banner": [None, None], "kex": [None, None], "newkeys": [False, False],
                                     "auth": {"accept": None, "failure": None, "attempts": 0, "success": None}})
        payload = as_int(p[_TLEN]) or 0
        banner = first(p[_PROTO])
        if banner:
            s["banner"][d] = unescape(banner).strip()
        codes = [int(x) for x in every(p[_MSG]) if x.isdigit()]
        if 20 in codes:
            s["kex"][d] = [first(p[F[f]]) for f in _KEX]
        if 21 in codes:
            s["newkeys"][d] = True
        elif d == 1 and s["newkeys"][0] and payload and not banner and not codes:
            # the server's encrypted packets once the client has sent NEWKEYS (and with it its
            # SERVICE_REQUEST): earlier ones are the tail of the server's own NEWKEYS segment
            # (EXT_INFO, and the ECDH reply's continuation when it overflows a segment)
            auth(s["auth"], payload)

    def finish(self, c: Conn) -> None:
        if "ssh" in c.app:
            self.emit("ssh", record(c))


def auth(a: dict, size: int) -> None:
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


def record(c: Conn) -> dict:
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
    return rec

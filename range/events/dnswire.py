"""DNS messages off the wire, read the way Zeek's DNS analyzer reads them.

:func:`parse` gives the header, the questions and the resource records Zeek looks at: the answer
section (and, in a dynamic update, the prerequisite and update sections), never authority or
additional records. Each record carries the text Zeek's scripts log for it in ``answers``
(:func:`rdata_text`: an address, a name, ``TXT 5 hello``, ``RRSIG 48 upenn.edu``...), or None
for the types Zeek's scripts have no handler for. Names are lower-cased without the final dot.
As in Zeek, parsing stops at the first record that does not parse; the ones before it count.

Written here rather than taken from a DNS library: the texts are Zeek's own, and a truncated or
hostile message must yield what it holds instead of an exception.
"""
from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass, field

NB_PORT = 137
OP_QUERY, OP_NOTIFY, OP_UPDATE = 0, 4, 5
C_NONE, C_ANY, T_ANY = 254, 255, 255


class Bad(Exception):
    """The message (or a record of it) does not parse."""


@dataclass
class RR:
    name: str
    rtype: int
    rclass: int
    ttl: int
    text: str | None  # what Zeek logs in answers (None: no handler, "" : logged as nothing)


@dataclass
class Message:
    id: int
    qr: bool
    opcode: int
    aa: bool
    tc: bool
    rd: bool
    ra: bool
    z: int
    rcode: int
    qdcount: int
    ancount: int
    nscount: int
    arcount: int
    questions: list = field(default_factory=list)  # (name, qtype, qclass)
    records: list = field(default_factory=list)    # RR, in wire order
    complete: bool = True                           # every section Zeek reads parsed


def name_at(buf: bytes, off: int) -> tuple[str, int]:
    """The domain name at ``off`` (compression followed), and the offset after it."""
    labels = []
    end = None
    jumps = 0
    while True:
        if off >= len(buf):
            raise Bad("name runs past the message")
        n = buf[off]
        if n == 0:
            off += 1
            break
        if n & 0xC0 == 0xC0:
            if off + 1 >= len(buf):
                raise Bad("name pointer cut short")
            if end is None:
                end = off + 2
            jumps += 1
            if jumps > 64:
                raise Bad("name pointer loop")
            off = ((n & 0x3F) << 8) | buf[off + 1]
            continue
        if n & 0xC0:
            raise Bad("unknown label type")
        label = buf[off + 1:off + 1 + n]
        if len(label) < n:
            raise Bad("label runs past the message")
        labels.append(label.lower().decode("utf-8", "backslashreplace"))
        off += 1 + n
    return ".".join(labels), (end if end is not None else off)


def _strings(rdata: bytes) -> list[bytes]:
    out, i = [], 0
    while i < len(rdata):
        n = rdata[i]
        out.append(rdata[i + 1:i + 1 + n])
        i += 1 + n
    if i != len(rdata):
        out.append(None)  # the last string overruns the record: logged, then parsing stops
    return out


def _txt(kind: str, rdata: bytes) -> str:
    parts = _strings(rdata)
    bad = parts and parts[-1] is None
    strings = [p for p in parts if p is not None]
    out = " ".join(f"{kind} {len(s)} {s.decode('utf-8', 'backslashreplace')}" for s in strings)
    if bad:
        raise _Partial(out)
    return out


class _Partial(Exception):
    """A record logged as far as it parsed; the records after it are not read."""

    def __init__(self, text: str):
        self.text = text


def rdata_text(buf: bytes, off: int, rtype: int, rdlen: int, netbios: bool, update: bool, owner: str) -> str | None:
    rdata = buf[off:off + rdlen]
    if rtype == 1:
        if rdlen != 4:
            raise Bad("A record of the wrong length")
        addr = str(ipaddress.IPv4Address(rdata))
        return f"A {owner} {addr}" if update else addr
    if rtype in (28, 38):
        if len(buf) < off + 16:
            raise Bad("AAAA record cut short")
        a = ipaddress.IPv6Address(buf[off:off + 16])
        addr = str(a.ipv4_mapped) if a.ipv4_mapped else str(a)
        return f"{'AAAA' if rtype == 28 else 'A6'} {owner} {addr}" if update else addr
    if rtype in (2, 5, 12):
        return name_at(buf, off)[0]
    if rtype == 15:
        return name_at(buf, off + 2)[0]
    if rtype == 6:
        return name_at(buf, off)[0]
    if rtype == 33:
        return None if netbios else name_at(buf, off + 6)[0]
    if rtype in (16, 99):
        return _txt("TXT" if rtype == 16 else "SPF", rdata)
    if rtype == 35:
        return _naptr(buf, off, rdata)
    if rtype == 11:
        return ""
    if rtype == 46:
        if rdlen < 18:
            raise Bad("RRSIG cut short")
        signer = name_at(buf, off + 18)[0]
        return f"RRSIG {struct.unpack('!H', rdata[:2])[0]} {signer or '<Root>'}"
    if rtype == 48:
        if rdlen < 4:
            raise Bad("DNSKEY cut short")
        return f"DNSKEY {rdata[3]}"
    if rtype == 43:
        if rdlen < 4:
            raise Bad("DS cut short")
        return f"DS {rdata[2]} {rdata[3]}"
    if rtype == 47:
        return f"NSEC {owner} {name_at(buf, off)[0]}"
    if rtype in (50, 51):
        return "NSEC3" if rtype == 50 else "NSEC3PARAM"
    if rtype == 65534:
        return "BIND9 signing signal"
    if rtype == 44:
        return "SSHFP: " + rdata[2:].hex()
    if rtype == 29:
        if rdlen != 16:
            raise Bad("LOC of the wrong length")
        return f"LOC:  {rdata[1]} {rdata[2]} {rdata[3]}"
    if rtype in (13, 257, 64, 65, 249, 250, 41) or (netbios and rtype == 32):
        return None  # Zeek's scripts have no handler: no trace in the log
    return f"<unknown type={rtype}>"


def _naptr(buf: bytes, off: int, rdata: bytes) -> str:
    if len(rdata) < 4:
        raise Bad("NAPTR cut short")
    order, pref = struct.unpack("!HH", rdata[:4])
    i = 4
    strs = []
    for _ in range(3):
        if i >= len(rdata):
            raise Bad("NAPTR cut short")
        n = rdata[i]
        strs.append(rdata[i + 1:i + 1 + n].decode("utf-8", "backslashreplace"))
        i += 1 + n
    repl = name_at(buf, off + i)[0]
    flags, service, regexp = strs
    tmp = regexp + (" " + repl if regexp and repl else "")
    return f"NAPTR {order} {pref} {flags} {service} {tmp}"


def _update_text(rr_class: int, rtype: int, ttl: int, rdlen: int, owner: str, prereq: bool) -> str | None:
    """A dynamic update's prerequisite or delete, as Zeek's scripts word it."""
    tname = qtype_name(rtype)
    if prereq:
        if rr_class == C_NONE:
            return f"pre: NameNotInUse {owner}" if rtype == T_ANY else f"pre: NoRRSet {tname} {owner}"
        if rr_class == C_ANY:
            return f"pre: NameInUse {owner}" if rtype == T_ANY else f"pre: RRSetExists {tname} {owner}"
        return None
    if rr_class == C_ANY and ttl == 0 and rdlen == 0:
        return f"del: RRSet * {owner}" if rtype == T_ANY else f"del: RRSet {tname}"
    return None


def parse(buf: bytes, netbios: bool = False) -> Message:
    """The message in ``buf``; :class:`Bad` if even its header or questions do not parse."""
    if len(buf) < 12:
        raise Bad("shorter than a DNS header")
    ident, flags, qd, an, ns, ar = struct.unpack("!HHHHHH", buf[:12])
    opcode = (flags >> 11) & 0xF
    m = Message(ident, bool(flags & 0x8000), opcode, bool(flags & 0x400), bool(flags & 0x200),
                bool(flags & 0x100), bool(flags & 0x80), (flags & 0x70) >> 4, flags & 0xF, qd, an, ns, ar)
    off = 12
    for _ in range(qd):
        name, off = name_at(buf, off)
        if off + 4 > len(buf):
            raise Bad("question cut short")
        qtype, qclass = struct.unpack("!HH", buf[off:off + 4])
        off += 4
        m.questions.append((name, qtype, qclass))
    update = opcode == OP_UPDATE and not netbios
    sections = [(an, "prereq" if update else "answer")] + ([(ns, "update")] if update else [])
    try:
        for count, kind in sections:
            for _ in range(count):
                off = _record(buf, off, m, netbios, kind)
    except (Bad, struct.error, ValueError):
        m.complete = False
    return m


def _record(buf: bytes, off: int, m: Message, netbios: bool, kind: str) -> int:
    owner, off = name_at(buf, off)
    if off + 10 > len(buf):
        raise Bad("record header cut short")
    rtype, rclass, ttl, rdlen = struct.unpack("!HHIH", buf[off:off + 10])
    off += 10
    if off + rdlen > len(buf):
        raise Bad("record data runs past the message")
    if kind == "prereq":
        m.records.append(RR(owner, rtype, rclass, ttl, _update_text(rclass, rtype, ttl, rdlen, owner, True)))
        return off + rdlen
    if kind == "update":
        deleted = _update_text(rclass, rtype, ttl, rdlen, owner, False)
        if deleted is not None:
            m.records.append(RR(owner, rtype, rclass, ttl, deleted))
            return off + rdlen
    if rdlen == 0 and len(buf) > off:
        raise Bad("zero rdlength")
    try:
        text = rdata_text(buf, off, rtype, rdlen, netbios, kind == "update", owner)
    except _Partial as p:
        m.records.append(RR(owner, rtype, rclass, ttl, p.text))
        raise Bad("character strings overrun the record") from None
    if kind == "update" and text is not None and not text.startswith("del:"):
        text = "add: " + text
    m.records.append(RR(owner, rtype, rclass, ttl, text))
    return off + rdlen


QUERY_TYPES = {
    1: "A", 2: "NS", 3: "MD", 4: "MF", 5: "CNAME", 6: "SOA", 7: "MB", 8: "MG", 9: "MR", 10: "NULL", 11: "WKS",
    12: "PTR", 13: "HINFO", 14: "MINFO", 15: "MX", 16: "TXT", 17: "RP", 18: "AFSDB", 19: "X25", 20: "ISDN",
    21: "RT", 22: "NSAP", 23: "NSAP-PTR", 24: "SIG", 25: "KEY", 26: "PX", 27: "GPOS", 28: "AAAA", 29: "LOC",
    30: "NXT", 31: "EID", 32: "NIMLOC", 33: "SRV", 34: "ATMA", 35: "NAPTR", 36: "KX", 37: "CERT", 38: "A6",
    39: "DNAME", 40: "SINK", 41: "OPT", 42: "APL", 43: "DS", 44: "SSHFP", 45: "IPSECKEY", 46: "RRSIG",
    47: "NSEC", 48: "DNSKEY", 49: "DHCID", 50: "NSEC3", 51: "NSEC3PARAM", 52: "TLSA", 53: "SMIMEA", 55: "HIP",
    56: "NINFO", 57: "RKEY", 58: "TALINK", 59: "CDS", 60: "CDNSKEY", 61: "OPENPGPKEY", 62: "CSYNC", 63: "ZONEMD",
    64: "SVCB", 65: "HTTPS", 99: "SPF", 100: "UINFO", 101: "UID", 102: "GID", 103: "UNSPEC", 104: "NID",
    105: "L32", 106: "L64", 107: "LP", 108: "EUI48", 109: "EUI64", 249: "TKEY", 250: "TSIG", 251: "IXFR",
    252: "AXFR", 253: "MAILB", 254: "MAILA", 255: "*", 256: "URI", 257: "CAA", 32768: "TA", 32769: "DLV",
    65281: "WINS", 65282: "WINS-R", 65422: "XPF", 65521: "INTEGRITY",
}
RCODES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED", 6: "YXDOMAIN",
          7: "YXRRSET", 8: "NXRRSet", 9: "NOTAUTH", 10: "NOTZONE"}
CLASSES = {1: "C_INTERNET", 2: "C_CSNET", 3: "C_CHAOS", 4: "C_HESIOD", 254: "C_NONE", 255: "C_ANY"}


def qtype_name(n: int) -> str:
    return QUERY_TYPES.get(n, f"query-{n}")


def rcode_name(n: int) -> str:
    return RCODES.get(n) or (f"unassigned-{n}" if 11 <= n <= 15 else f"rcode-{n}")


def qclass_name(n: int) -> str:
    return CLASSES.get(n, f"qclass-{n}")


def netbios_name(encoded: str) -> str:
    """Zeek's decode_netbios_name: the 32-letter first-level encoding back to the name."""
    if len(encoded) != 32:
        return ""
    up = encoded.upper()
    if any(not "A" <= ch <= "P" for ch in up):
        return ""
    raw = bytes(((ord(up[i]) - 65) << 4) | (ord(up[i + 1]) - 65) for i in range(0, 32, 2))
    out = bytearray()
    for b in raw:
        if 32 <= b <= 126 or b < 3:  # isalnum, ispunct, a space, or below 3
            out.append(b)
        else:
            break
    if len(out) == 16:
        out = out[:15]
    return out.decode("latin-1").rstrip(" \x00")

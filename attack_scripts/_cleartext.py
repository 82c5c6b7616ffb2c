"""FTP and Telnet dialogues as the range's Debian servers speak them (vsftpd 3.0.3,
inetutils-telnetd with ``/bin/login``), shared by the clear-text credentials technique and the
benign FTP traffic.

:class:`Ftp` builds a control connection message by message and opens each passive-mode data
connection at the moment the client would: after the ``227``/``229`` reply, before the
``LIST``/``RETR``/``STOR`` command, its transfer between the ``150`` and the ``226``.
:class:`Telnet` builds a login: option negotiation, the ``login:`` prompt, a user name typed one
character per segment and echoed by the server, a password typed without echo, the MOTD, a shell
prompt and commands.
"""
from __future__ import annotations

import datetime as dt

from attack_scripts._tcptime import message_times, ready_time, session_end
from range.topology import SERVICES
from range.traffic import TcpSession, ephemeral_port

FTP_BANNER = SERVICES["ftp"].banner
ISSUE_NET = SERVICES["telnet"].banner
KERNEL = "6.1.0-28-amd64 #1 SMP PREEMPT_DYNAMIC Debian 6.1.119-1 (2024-11-22) x86_64"
VSFTPD_FEAT = "211-Features:\r\n EPRT\r\n EPSV\r\n MDTM\r\n PASV\r\n REST STREAM\r\n SIZE\r\n TVFS\r\n211 End"


def _crlf(text: str) -> bytes:
    return (text + "\r\n").encode()


class Ftp:
    """One FTP session against vsftpd: the control connection and its data connections."""

    def __init__(self, rng, client: str, server: str, t: float, rtt: float, pace: float = 1.0,
                 sport: int | None = None):
        self.r = rng
        self.pace = pace
        self.client, self.rtt = client, rtt
        self.ctrl = TcpSession(t=t, client=client, server=server, sport=sport or ephemeral_port(rng), dport=21,
                               messages=[], close="server_fin", rtt=rtt)
        self.data: list[TcpSession] = []
        self._port: int | None = None

    # -- primitives --------------------------------------------------------------------------
    def wait(self, lo: float, hi: float) -> float:
        return self.r.uniform(lo, hi) * self.pace

    def now(self) -> float:
        """The control connection's clock after its last message."""
        times = message_times(self.ctrl)
        return times[-1] if times else ready_time(self.ctrl)

    def reply(self, delay: float, text: str) -> None:
        self.ctrl.messages.append((delay, "s", _crlf(text)))

    def command(self, think: float, line: str, reply: str | None = None,
                latency: tuple[float, float] = (0.0002, 0.0012)) -> None:
        self.ctrl.messages.append((think, "c", _crlf(line)))
        if reply is not None:
            self.reply(self.wait(*latency), reply)

    def actions(self) -> list[TcpSession]:
        return [self.ctrl, *self.data]

    def end(self) -> float:
        return max(session_end(a) for a in self.actions())

    # -- dialogue ----------------------------------------------------------------------------
    def greet(self) -> None:
        self.reply(self.wait(0.002, 0.012), FTP_BANNER)

    def login(self, think_user: float, think_pass: float, user: str, password: str, ok: bool = True) -> None:
        self.command(think_user, f"USER {user}", "331 Please specify the password.")
        if ok:
            self.command(think_pass, f"PASS {password}", "230 Login successful.", latency=(0.008, 0.05))
        else:  # vsftpd's delay_failed_login (1 s) after PAM said no
            self.command(think_pass, f"PASS {password}", "530 Login incorrect.", latency=(1.0, 1.4))

    def passive(self, think: float, extended: bool = False) -> None:
        port = ephemeral_port(self.r)
        self._port = port
        if extended:
            self.command(think, "EPSV", f"229 Entering Extended Passive Mode (|||{port}|)")
        else:
            h = self.server_ip.replace(".", ",")
            self.command(think, "PASV", f"227 Entering Passive Mode ({h},{port >> 8},{port & 0xFF}).")

    @property
    def server_ip(self) -> str:
        return self.ctrl.server

    def transfer(self, line: str, opening: str, payload: bytes, upload: bool, done: str,
                 before: list[tuple[str, str]] = ()) -> None:
        """The client connects to the passive port, sends ``before`` commands (``TYPE A``) and
        ``line``; vsftpd answers ``opening``, the payload crosses the data connection, which the
        sender closes, and vsftpd reports ``done``."""
        assert self._port is not None, "transfer() needs passive() first"
        now = self.now()
        d = TcpSession(t=now + self.wait(0.0002, 0.0015), client=self.client, server=self.server_ip,
                       sport=ephemeral_port(self.r), dport=self._port, messages=[], rtt=self.rtt,
                       close="client_fin" if upload else "server_fin")
        self._port = None
        first = True
        for cmd, reply in before:
            self.command(ready_time(d) - now + 0.0001 if first else self.wait(0.0002, 0.001), cmd, reply)
            first = False
        self.command(ready_time(d) - now + 0.0001 if first else self.wait(0.0002, 0.001), line)
        self.reply(self.wait(0.0003, 0.002), opening)
        t150 = self.now()
        start = max(0.0, t150 - ready_time(d)) + self.wait(0.0001, 0.0008)
        d.messages.append((start, "c" if upload else "s", payload))
        self.data.append(d)
        self.reply(session_end(d) - t150 + self.wait(0.0002, 0.0012), done)

    def quit(self, think: float) -> None:
        self.command(think, "QUIT", "221 Goodbye.")


def ls_line(rng, name: str, size: int, when: float, uid: int, directory: bool = False) -> str:
    """A line of vsftpd's ``LIST`` output (numeric owner, as vsftpd shows by default)."""
    d = dt.datetime.fromtimestamp(when, dt.timezone.utc)
    perm = "drwxr-xr-x" if directory else rng.choice(["-rw-r--r--", "-rw-r--r--", "-rw-rw-r--", "-rw-------"])
    return f"{perm} {2 if directory else 1:4d} {uid:<8} {uid:<8} {size:8d} {d.strftime('%b %d %H:%M')} {name}"


def listing(rng, files: list[tuple[str, int]], t: float, uid: int, dirs: list[str] = ()) -> bytes:
    lines = [ls_line(rng, d, 4096, t - rng.uniform(86400, 90 * 86400), uid, True) for d in dirs]
    lines += [ls_line(rng, n, s, t - rng.uniform(3600, 60 * 86400), uid) for n, s in files]
    return "".join(line + "\r\n" for line in lines).encode()


MAGIC = {".pdf": b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", ".docx": b"PK\x03\x04\x14\x00\x06\x00\x08\x00",
         ".xlsx": b"PK\x03\x04\x14\x00\x06\x00\x08\x00", ".zip": b"PK\x03\x04\x14\x00\x00\x00\x08\x00",
         ".gz": b"\x1f\x8b\x08\x00", ".kdbx": b"\x03\xd9\xa2\x9a\x67\xfb\x4b\xb5",
         ".jpg": b"\xff\xd8\xff\xe0\x00\x10JFIF"}


def file_bytes(rng, name: str, size: int) -> bytes:
    """A file's content as it crosses the wire: its format's magic, then (compressed-looking) bytes."""
    ext = name[name.rfind("."):] if "." in name else ""
    if ext in (".txt", ".csv", ".conf", ".ovpn"):
        words = [b"Ministry", b"budget", b"2026", b"total", b"department", b"contract", b"EUR", b"approved"]
        out = bytearray()
        while len(out) < size:
            out += b";".join(rng.choice(words) for _ in range(rng.randint(3, 8))) + b"\r\n"
        return bytes(out[:size])
    head = MAGIC.get(ext, b"")
    return head + rng.randbytes(max(0, size - len(head)))


# ---- telnet --------------------------------------------------------------------------------

IAC, DONT, DO, WONT, WILL, SB, SE = 255, 254, 253, 252, 251, 250, 240
ECHO, SGA, STATUS, TTYPE, NAWS, TSPEED, LFLOW, LINEMODE, XDISPLOC, NEW_ENVIRON = 1, 3, 5, 24, 31, 32, 33, 34, 35, 39


def _opts(*pairs: tuple[int, int]) -> bytes:
    return b"".join(bytes([IAC, verb, opt]) for verb, opt in pairs)


def _sb(opt: int, body: bytes) -> bytes:
    return bytes([IAC, SB, opt]) + body + bytes([IAC, SE])


def motd(hostname: str, last_from: str | None, last_when: float | None) -> str:
    text = (f"Linux {hostname} {KERNEL}\r\n\r\n"
            "The programs included with the Debian GNU/Linux system are free software;\r\n"
            "the exact distribution terms for each program are described in the\r\n"
            "individual files in /usr/share/doc/*/copyright.\r\n\r\n"
            "Debian GNU/Linux comes with ABSOLUTELY NO WARRANTY, to the extent\r\n"
            "permitted by applicable law.\r\n")
    if last_from and last_when:
        d = dt.datetime.fromtimestamp(last_when, dt.timezone.utc)
        text += f"Last login: {d.strftime('%a %b %d %H:%M:%S %Y')} from {last_from} on pts/0\r\n"
    return text


class Telnet:
    """A Linux ``telnet`` client logging in to inetutils-telnetd (``/bin/login``, bash)."""

    def __init__(self, rng, client: str, server: str, t: float, rtt: float, hostname: str, pace: float = 1.0):
        self.r = rng
        self.pace = pace
        self.hostname = hostname
        self.session = TcpSession(t=t, client=client, server=server, sport=ephemeral_port(rng), dport=23,
                                  messages=[], close="server_fin", rtt=rtt)

    def wait(self, lo: float, hi: float) -> float:
        return self.r.uniform(lo, hi) * self.pace

    def say(self, delay: float, side: str, data: bytes | str) -> None:
        self.session.messages.append((delay, side, data.encode() if isinstance(data, str) else data))

    def negotiate(self) -> None:
        """The option negotiation of a Linux telnet client with telnetd, then the login prompt."""
        w = self.wait
        self.say(w(0.0005, 0.003), "s", _opts((DO, TTYPE), (DO, TSPEED), (DO, XDISPLOC), (DO, NEW_ENVIRON)))
        self.say(w(0.0002, 0.001), "c", _opts((DO, SGA), (WILL, TTYPE), (WILL, NAWS), (WILL, TSPEED), (WILL, LFLOW),
                                             (WILL, LINEMODE), (WILL, NEW_ENVIRON), (DO, STATUS)))
        self.say(w(0.0002, 0.001), "c", _opts((WONT, XDISPLOC)))
        self.say(w(0.0003, 0.002), "s", _sb(TSPEED, b"\x01") + _sb(NEW_ENVIRON, b"\x01") + _sb(TTYPE, b"\x01"))
        self.say(w(0.0002, 0.001), "c", _sb(TSPEED, b"\x0038400,38400") + _sb(NEW_ENVIRON, b"\x00")
                 + _sb(TTYPE, b"\x00XTERM-256COLOR"))
        self.say(w(0.0003, 0.002), "s", _opts((WILL, SGA), (DO, ECHO), (DO, NAWS), (WILL, STATUS), (DO, LFLOW),
                                             (DONT, LINEMODE)))
        self.say(w(0.0002, 0.001), "c", _opts((WONT, ECHO)) + _sb(NAWS, b"\x00\x50\x00\x18")
                 + _sb(LFLOW, b"\x00") + _sb(LFLOW, b"\x02"))
        self.say(w(0.0003, 0.002), "s", _opts((WILL, ECHO)))
        self.say(w(0.0002, 0.001), "c", _opts((DO, ECHO)))
        self.say(w(0.005, 0.03), "s", f"\r\n{ISSUE_NET}\r\n{self.hostname} login: ")

    def type_line(self, think: float, text: str, echo: bool) -> None:
        """Keys typed one per segment (character mode), each echoed by the server if ``echo``;
        Enter is sent as CR NUL."""
        for i, ch in enumerate(text):
            self.say(think if i == 0 else self.wait(0.07, 0.3), "c", ch)
            if echo:
                self.say(self.wait(0.0003, 0.0015), "s", ch)
        self.say(self.wait(0.08, 0.35) if text else think, "c", b"\r\x00")

    def login(self, user: str, password: str, ok: bool, last_from: str | None = None,
              last_when: float | None = None) -> None:
        self.type_line(self.wait(1.0, 3.0), user, echo=True)
        self.say(self.wait(0.001, 0.006), "s", "\r\nPassword: ")
        self.type_line(self.wait(0.5, 1.5), password, echo=False)
        if ok:
            self.say(self.wait(0.05, 0.2), "s", "\r\n" + motd(self.hostname, last_from, last_when))
            self.say(self.wait(0.01, 0.05), "s", f"{user}@{self.hostname}:~$ ")
        else:  # pam_unix's failure delay, then login asks again
            self.say(self.wait(2.0, 3.2), "s", f"\r\nLogin incorrect\r\n{self.hostname} login: ")

    def shell(self, think: float, user: str, line: str, output: str) -> None:
        self.type_line(think, line, echo=True)
        self.say(self.wait(0.0005, 0.002), "s", "\r\n")
        if output:
            self.say(self.wait(0.002, 0.02), "s", output.replace("\n", "\r\n"))
        self.say(self.wait(0.0003, 0.002), "s", f"{user}@{self.hostname}:~$ ")

    def logout(self, think: float) -> None:
        self.type_line(think, "exit", echo=True)
        self.say(self.wait(0.0005, 0.002), "s", "\r\nlogout\r\n")


def passwd_file(users: list[tuple[str, str, int]]) -> str:
    """A Debian 12 file server's ``/etc/passwd``: (login, full name, uid) staff accounts."""
    base = ("root:x:0:0:root:/root:/bin/bash\n"
            "daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n"
            "bin:x:2:2:bin:/bin:/usr/sbin/nologin\n"
            "sys:x:3:3:sys:/dev:/usr/sbin/nologin\n"
            "sync:x:4:65534:sync:/bin:/bin/sync\n"
            "games:x:5:60:games:/usr/games:/usr/sbin/nologin\n"
            "man:x:6:12:man:/var/cache/man:/usr/sbin/nologin\n"
            "lp:x:7:7:lp:/var/spool/lpd:/usr/sbin/nologin\n"
            "mail:x:8:8:mail:/var/mail:/usr/sbin/nologin\n"
            "news:x:9:9:news:/var/spool/news:/usr/sbin/nologin\n"
            "uucp:x:10:10:uucp:/var/spool/uucp:/usr/sbin/nologin\n"
            "proxy:x:13:13:proxy:/bin:/usr/sbin/nologin\n"
            "www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin\n"
            "backup:x:34:34:backup:/var/backups:/usr/sbin/nologin\n"
            "list:x:38:38:Mailing List Manager:/var/list:/usr/sbin/nologin\n"
            "irc:x:39:39:ircd:/run/ircd:/usr/sbin/nologin\n"
            "_apt:x:42:65534::/nonexistent:/usr/sbin/nologin\n"
            "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
            "systemd-network:x:998:998:systemd Network Management:/:/usr/sbin/nologin\n"
            "messagebus:x:100:107::/nonexistent:/usr/sbin/nologin\n"
            "sshd:x:101:65534::/run/sshd:/usr/sbin/nologin\n"
            "ftp:x:102:109:ftp daemon,,,:/srv/ftp:/usr/sbin/nologin\n"
            "telnetd:x:103:110::/nonexistent:/usr/sbin/nologin\n")
    return base + "".join(f"{u}:x:{uid}:{uid}:{name},,,:/home/{u}:/bin/bash\n" for u, name, uid in users)

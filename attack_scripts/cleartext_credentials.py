"""Credentials in clear text over FTP and Telnet, MITRE ATT&CK T1552 Unsecured Credentials.

Imitates someone (an intruder with stolen credentials, or a careless member of staff) logging in
to the file server with the classic command-line clients: ``ftp`` in passive mode against
vsftpd 3.0.3 (``220 (vsFTPd 3.0.3)``, ``USER``/``331``, ``PASS``/``230`` or ``530``, ``SYST``,
``PWD``, ``TYPE I``, ``PASV``/``227`` then ``LIST`` and/or ``RETR`` over a data connection to the
passive port, ``QUIT``/``221``) and ``telnet`` against inetutils-telnetd (option negotiation,
``login:``, the user name typed a character per segment and echoed, ``Password:`` typed without
echo, Debian's MOTD, a bash prompt, ``id`` and ``cat /etc/passwd``, ``exit``). The user name and
password differ per team; ``failed_logins`` wrong passwords come first.

Wireshark: ``ftp.request.command == "PASS"`` with the password in ``ftp.request.arg``,
``ftp-data`` for the listing and the file, ``telnet.data`` carrying the typed characters;
``tshark -z credentials`` lists the FTP login.
"""
from __future__ import annotations

from typing import Literal

from pydantic import Field

from attack_scripts import _cleartext as ct
from attack_scripts._names import human_password, login_name, mistyped
from attack_scripts._tcptime import actions_end, fit
from range.core import RangeError, Strict
from range.traffic import StepContext, TcpSession, Technique, technique

HOME_FILES = ["budget_2027_draft.xlsx", "procurement-contracts.pdf", "vpn-{t}.ovpn", "staff_salaries_2026.xlsx",
              "meeting-notes-{t}.docx", "passwords.kdbx", "backup-{t}.tar.gz", "scan_{t}.pdf", "tender_eval.docx",
              "id_cards.zip", "payroll-export.csv"]


class Params(Strict):
    protocol: Literal["ftp", "telnet", "both"] = Field(default="both", description="ftp, telnet or both (ftp first)")
    failed_logins: int = Field(default=0, ge=0, le=3, description="wrong passwords typed before the right one")
    transfer: Literal["list", "retr", "both"] = Field(default="both", description="FTP: LIST, RETR or both")


# worst cases at pace 1 (see the delays in _cleartext): seconds
FTP_BASE, FTP_PER_FAILURE = 50.0, 18.0
TELNET_BASE, TELNET_PER_FAILURE = 55.0, 20.0
BETWEEN = (4.0, 15.0)


def _uid(rng) -> int:
    return rng.randint(1001, 1012)


@technique
class CleartextCredentials(Technique):
    name = "cleartext_credentials"
    attack = "T1552"
    tactic = "credential-access"
    summary = "FTP and Telnet logins with the password in clear text"
    Params = Params
    max_targets = 1
    target_services = ("ftp", "telnet")

    def duration(self, p: Params) -> float:
        total = 0.0
        if p.protocol in ("ftp", "both"):
            total += FTP_BASE + FTP_PER_FAILURE * p.failed_logins
        if p.protocol in ("telnet", "both"):
            total += TELNET_BASE + TELNET_PER_FAILURE * p.failed_logins
        if p.protocol == "both":
            total += BETWEEN[1]
        return total

    def generate(self, ctx: StepContext):
        p: Params = ctx.params
        target = ctx.targets[0]
        want = ["ftp", "telnet"] if p.protocol == "both" else [p.protocol]
        missing = [s for s in want if s not in target.services]
        if missing:
            raise RangeError(f"step {ctx.step_id!r}: cleartext_credentials with protocol {p.protocol!r} needs "
                             f"{' and '.join(missing)} on {target.name!r}, which runs {', '.join(target.services)}")
        r = ctx.rng
        user = login_name(ctx.names)
        full = ctx.names.username().replace(".", " ").title()
        colleagues = [(login_name(ctx.names), ctx.names.username().replace(".", " ").title()) for _ in range(3)]
        password = human_password(r)
        ctx.extra.setdefault("accounts", []).append((target.name, user, password))  # the live range creates it
        wrong = [mistyped(r, password) for _ in range(p.failed_logins)]
        files = [(f.format(t=ctx.names.token(6)), r.randint(18_000, 420_000)) for f in r.sample(HOME_FILES, 6)]

        def build(pace: float) -> list[TcpSession]:
            out: list[TcpSession] = []
            t = ctx.t0
            rtt = r.uniform(0.0003, 0.0012)
            uid = _uid(r)
            if "ftp" in want:
                out += self._ftp(r, ctx, t, rtt, pace, user, password, wrong, files, p.transfer, uid)
                t = actions_end(out) + r.uniform(*BETWEEN) * pace
            if "telnet" in want:
                out.append(self._telnet(r, ctx, t, rtt, pace, user, full, password, wrong, colleagues, uid))
            return out

        return fit(build, r, ctx.t0, self.duration(p))

    @staticmethod
    def _ftp(r, ctx: StepContext, t: float, rtt: float, pace: float, user: str, password: str,
             wrong: list[str], files: list[tuple[str, int]], transfer: str, uid: int) -> list[TcpSession]:
        f = ct.Ftp(r, ctx.source.ip, ctx.targets[0].ip, t, rtt, pace)
        w = f.wait
        f.greet()
        for bad in wrong:  # "Login failed." then "user <name>" at the ftp> prompt
            f.login(w(2.0, 5.0), w(2.0, 5.0), user, bad, ok=False)
        f.login(w(2.0, 5.0), w(2.0, 5.0), user, password, ok=True)
        f.command(w(0.0005, 0.002), "SYST", "215 UNIX Type: L8")
        f.command(w(2.0, 7.0), "PWD", f'257 "/home/{user}" is the current directory')
        f.command(w(2.0, 5.0), "TYPE I", "200 Switching to Binary mode.")
        if transfer in ("list", "both"):
            f.passive(w(2.0, 7.0))
            f.transfer("LIST", "150 Here comes the directory listing.",
                       ct.listing(r, files, ctx.t0, uid, ["Documents", "scans"]), False, "226 Directory send OK.")
        if transfer in ("retr", "both"):
            name, size = r.choice(files)
            f.passive(w(3.0, 9.0))
            f.transfer(f"RETR {name}", f"150 Opening BINARY mode data connection for {name} ({size} bytes).",
                       ct.file_bytes(r, name, size), False, "226 Transfer complete.")
        f.quit(w(2.0, 6.0))
        return f.actions()

    @staticmethod
    def _telnet(r, ctx: StepContext, t: float, rtt: float, pace: float, user: str, full: str, password: str,
                wrong: list[str], colleagues: list[tuple[str, str]], uid: int) -> TcpSession:
        target = ctx.targets[0]
        tn = ct.Telnet(r, ctx.source.ip, target.ip, t, rtt, target.hostname, pace)
        tn.negotiate()
        for bad in wrong:
            tn.login(user, bad, ok=False)
        last_from = r.choice(ctx.layout.env.spec.benign.clients)
        tn.login(user, password, ok=True, last_from=ctx.layout.host(last_from).ip,
                 last_when=ctx.t0 - r.uniform(3600, 6 * 86400))
        ident = f"uid={uid}({user}) gid={uid}({user}) groups={uid}({user}),100(users)\n"
        tn.shell(tn.wait(1.5, 5.0), user, "id", ident)
        others = [u for u in range(1000, 1016) if u != uid]
        staff = sorted([(user, full, uid)] + [(u, n, others[i]) for i, (u, n) in enumerate(colleagues)],
                       key=lambda x: x[2])
        tn.shell(tn.wait(2.0, 6.0), user, "cat /etc/passwd", ct.passwd_file(staff))
        tn.logout(tn.wait(2.0, 6.0))
        return tn.session

"""Administrators working on the servers over SSH (OpenSSH 9.2 client to OpenSSH 9.2 server).

Mostly interactive sessions from the admins' workstations: the key exchange
(sntrup761x25519, Ed25519 host key, chacha20-poly1305), one successful login by password or
by key, a pty and a shell, then commands typed key by key (a 36-byte packet per keystroke and
its echo) with think time between them and their output, tens of seconds to a few minutes, and
an orderly ``exit``. Some are one-shot ``ssh host 'command'`` runs. Now and then a password is
mistyped once and accepted on the second try, so a rule firing on "any SSH authentication
failure" or "any encrypted packet sized like a failed login" fires on benign traffic too.

On the server (host records): sshd's ``Accepted password``/``Accepted publickey ... ED25519
SHA256:...`` (and the odd ``Failed password``), PAM's and logind's session lines, the login
shell and every command typed as its processes, ``sudo``'s lines (``USER=root ;
COMMAND=/usr/bin/systemctl status nginx``) with its command run as root, and the logout.
"""
from __future__ import annotations

from pydantic import Field

from attack_scripts import _linux, _ssh
from attack_scripts._names import human_password, login_name, mistyped
from attack_scripts._tcptime import session_end
from range.traffic import BenignContext, BenignKind, BenignParams, TcpSession, benign, ephemeral_port

# (command line, typical bytes of output)
COMMON = [("uptime", 70), ("df -h", 620), ("free -m", 240), ("ls -la", 900), ("who", 120), ("w", 260),
          ("sudo apt update", 1400), ("apt list --upgradable", 700), ("top -bn1 | head -20", 1700),
          ("journalctl -p err --since today --no-pager", 2600), ("tail -n 50 /var/log/syslog", 6200),
          ("systemctl --failed", 180), ("last -n 10", 800), ("ip -br a", 260), ("ss -tlnp", 900),
          ("sudo systemctl status ssh", 1300), ("cat /etc/os-release", 380), ("du -sh /var/log", 40)]
BY_SERVICE = {
    "http": [("sudo systemctl status nginx", 1500), ("sudo nginx -t", 140), ("sudo systemctl reload nginx", 0),
             ("tail -n 100 /var/log/nginx/access.log", 14000), ("tail -n 30 /var/log/nginx/error.log", 3200),
             ("ls -la /var/www/html", 1100), ("sudo systemctl status php8.2-fpm", 1400)],
    "ftp": [("sudo systemctl status vsftpd", 1200), ("tail -n 50 /var/log/vsftpd.log", 5200),
            ("ls -la /srv/ftp/scans", 2400), ("du -sh /home/*", 400), ("sudo grep -c FAIL /var/log/vsftpd.log", 4)],
    "telnet": [("sudo systemctl status inetd", 900), ("grep telnet /etc/inetd.conf", 120)],
}
ONE_SHOT = [("uptime", 70), ("df -h /", 120), ("systemctl is-active nginx", 7), ("free -m", 240),
            ("cat /proc/loadavg", 28), ("sudo systemctl is-active vsftpd", 7)]


class Params(BenignParams):
    typo: float = Field(default=0.12, ge=0, le=1, description="share of password logins that fail once first")
    one_shot: float = Field(default=0.25, ge=0, le=1, description="share of non-interactive ssh host 'cmd' runs")


@benign
class BenignSsh(BenignKind):
    name = "ssh"
    summary = "admins' interactive SSH sessions and one-shot commands, a mistyped password now and then"
    Params = Params

    def generate(self, ctx: BenignContext):
        servers = ctx.servers("ssh")
        if not servers or not ctx.clients:
            return
        p: Params = ctx.params
        r = ctx.rng
        end = ctx.t0 + ctx.duration
        # two administrators: one types a password, one uses a key; each has a usual workstation
        admins = [{"user": login_name(ctx.names), "password": human_password(r), "key": None},
                  {"user": login_name(ctx.names), "password": None, "key": _ssh.user_key(r)}]
        for a in admins:
            a["ws"] = r.choice(ctx.clients)
        keys = {s.name: _ssh.host_keys(ctx.layout, s) for s in servers}
        sshd = {s.name: _linux.Sshd(ctx.host, ctx.layout, s) for s in servers}
        for t in ctx.times():
            admin = r.choice(admins)
            client = admin["ws"] if r.random() < 0.8 else r.choice(ctx.clients)
            server = r.choice(servers)
            rtt = r.uniform(0.0003, 0.0012)
            if r.random() < p.one_shot:
                cmd, out = r.choice(ONE_SHOT)
                talk = _ssh.run_command(r, _ssh.OPENSSH, keys[server.name], admin["user"], admin["password"], cmd,
                                        int(out * r.uniform(0.8, 1.3)), key_blob=admin["key"])
            else:
                pool = COMMON + [c for s in server.services for c in BY_SERVICE.get(s, [])]
                commands = [(c, int(o * r.uniform(0.7, 1.4))) for c, o in r.sample(pool, r.randint(2, 9))]
                wrong = mistyped(r, admin["password"]) if admin["password"] and r.random() < p.typo else None
                talk = _ssh.interactive(r, _ssh.OPENSSH, keys[server.name], admin["user"], admin["password"],
                                        commands, wrong=wrong, think=(1.5, r.choice((6.0, 12.0, 25.0))),
                                        hostname=server.hostname, key_blob=admin["key"])
            sess = TcpSession(t=t, client=client.ip, server=server.ip, sport=ephemeral_port(r), dport=22,
                              messages=talk.messages, close="client_fin", rtt=rtt)
            if session_end(sess) <= end:  # sessions the capture would cut short are left out
                _linux.session_log(sshd[server.name], sess, talk.marks, admin["user"], key_blob=admin["key"])
                yield sess

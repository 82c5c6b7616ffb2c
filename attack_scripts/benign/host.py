"""What the nodes do on their own, off the network: cron's jobs, log rotation, backups with tar,
package updates, an administrator's ``sudo`` at a workstation, developers' shells.

Host records only, no packets (administrators' SSH logins to the servers cross the network: the
``ssh`` kind writes their lines and processes, the ``web`` kind PHP's mail()). On every node but
the intruder's, at ``rate`` activities per second across the nodes:

* cron (every node): ``CRON[pid]: (root) CMD (...)`` between PAM's session lines, ``/bin/sh -c``
  and its commands: sysstat's ``debian-sa1 1 1``, ``run-parts --report /etc/cron.hourly``, PHP's
  ``sessionclean`` on a web server;
* log rotation (every node): cron.daily's ``run-parts``, ``/usr/sbin/logrotate
  /etc/logrotate.conf``, the postrotate commands (``invoke-rc.d nginx rotate``,
  ``rsyslog-rotate``) and the log files it creates;
* backups (servers): root's ``/usr/local/sbin/backup.sh``, ``tar -czf /var/backups/...`` with its
  ``gzip`` and the archive it writes, old archives pruned with ``find``;
* package updates (every node): ``apt.systemd.daily`` started by systemd, ``apt-get -qq -y
  update`` and its download methods as ``_apt``;
* an administrator at a workstation: ``sudo apt update``, ``sudo systemctl restart cups``...
  (sudo's ``USER=root ; COMMAND=...`` lines and PAM's);
* developers' shells at the workstations: ``ls``, ``git status``, ``vim``, ``python3 -m pytest``,
  now and then ``id`` or ``uname -a`` (a rule on those commands alone fires on benign activity).
"""
from __future__ import annotations

import math
import time

from pydantic import Field

from attack_scripts import _linux
from attack_scripts._names import login_name
from range.traffic import BenignContext, BenignKind, BenignParams, HostLog, Proc, benign

SERVER_ROLES = ("server", "dns")
BACKUP_DIRS = {"http": ["/var/www", "/etc/nginx", "/etc/php"], "ftp": ["/srv/ftp", "/etc/vsftpd.conf"],
               "smtp": ["/etc/postfix", "/var/mail"], "dns": ["/etc/dnsmasq.conf", "/etc/hosts"]}
ADMIN = ["sudo apt update", "sudo apt upgrade -y", "sudo systemctl restart cups", "sudo systemctl status ssh",
         "sudo journalctl -u NetworkManager --since today --no-pager", "sudo apt install -y htop",
         "sudo tail -n 50 /var/log/syslog", "sudo ufw status"]
DEVELOPER = ["ls -la", "git status", "git pull", "git log --oneline -5", "git diff --stat", "vim notes.md",
             "vim src/report.py", "python3 -m pytest -q", "python3 scripts/export.py --month 11", "cat README.md",
             "grep -rn TODO src", "make", "less /var/log/syslog", "ls ~/Downloads", "df -h", "top -bn1 | head -15",
             "id", "uname -a", "ps aux | grep python", "curl -s http://localhost:8000/health"]


class Params(BenignParams):
    rate: float = Field(gt=0, le=5, description="activities per second across the nodes (each a few to tens of "
                                                 "records)")


LENGTH = 120.0  # seconds: no activity begins this close to the end (a job waits for its minute, then runs)


@benign
class BenignHost(BenignKind):
    name = "host"
    summary = "the nodes' own activity (host records only): cron jobs, logrotate, tar backups, apt, sudo, shells"
    Params = Params

    def generate(self, ctx: BenignContext):
        nodes = [h for h in ctx.layout.hosts.values() if h.role != "attacker"]
        if nodes:
            self._write(ctx, nodes)
        yield from ()

    def _write(self, ctx: BenignContext, nodes) -> None:
        r = ctx.rng
        lay = ctx.layout
        log = ctx.host
        end = ctx.t0 + ctx.duration - LENGTH
        last = ctx.t0 + ctx.duration - 45  # a developer's next command, then sudo's session closing
        workstations = [h for h in nodes if h.role == "workstation"]
        admin = login_name(ctx.names)
        devs = {h.name: login_name(ctx.names) for h in workstations}
        terminals: dict[tuple[str, str], Proc] = {}

        def terminal(node: str, user: str) -> Proc:
            """A user's terminal at a workstation's console: bash on a pty, its login session."""
            if (node, user) not in terminals:
                uid = _linux.uid_of(lay, user)
                terminals[node, user] = Proc(node, _linux.daemon_pid(lay, node, f"bash-{user}"), "/usr/bin/bash",
                                             "bash", user, uid, _linux.home_of(user), uid,
                                             2 + _linux.daemon_pid(lay, node, f"session-{user}") % 40,
                                             f"pts{len(terminals) % 3}")
            return terminals[node, user]

        acts = {"cron": 40, "logrotate": 5, "apt": 6}
        for t in ctx.times():
            if t > end:
                break
            node = r.choice(nodes)
            choices = dict(acts)
            if node.role in SERVER_ROLES:
                choices["backup"] = 10
            if node.role == "workstation":
                choices.update(admin=12, developer=30)
            what = r.choices(list(choices), list(choices.values()))[0]
            if what == "cron":
                jobs = ["command -v debian-sa1 > /dev/null && debian-sa1 1 1",
                        "cd / && run-parts --report /etc/cron.hourly"]
                if "http" in node.services:
                    jobs.append("[ -x /usr/lib/php/sessionclean ] && if [ ! -d /run/systemd/system ]; then "
                                "/usr/lib/php/sessionclean; fi")
                at = math.ceil(t / 60) * 60 + r.uniform(0.002, 0.04)  # cron starts jobs on the minute
                _sh, kids = _linux.cron_job(log, lay, node.name, at, r.choice(jobs), length=r.uniform(0.05, 2))
                for k in kids:
                    if k.image.endswith("/debian-sa1"):
                        log.process(at + 0.01, k, ["/usr/lib/sysstat/sadc", "-F", "-L", "-S", "DISK", "1", "1",
                                                   "/var/log/sysstat"], "/usr/lib/sysstat/sadc")
            elif what == "logrotate":
                self._logrotate(log, lay, node, t)
            elif what == "backup":
                self._backup(log, lay, node, t)
            elif what == "apt":
                self._apt(log, lay, node, t)
            elif what == "admin":
                _linux.run(log, t, terminal(node.name, admin), r.choice(ADMIN), sudo_close=r.uniform(1, 40))
            else:
                shell = terminal(node.name, devs[node.name])
                for cmd in r.sample(DEVELOPER, r.randint(2, 6)):
                    if t > last:
                        break
                    _linux.run(log, t, shell, cmd)
                    t += r.uniform(2, 40)

    @staticmethod
    def _logrotate(log: HostLog, lay, node, t: float) -> None:
        r = log.rng
        at = math.ceil(t / 60) * 60 + r.uniform(0.002, 0.04)
        _sh, kids = _linux.cron_job(log, lay, node.name, at, "test -x /usr/sbin/anacron || { cd / && run-parts "
                                    "--report /etc/cron.daily; }", length=r.uniform(1, 4))
        parts = next((k for k in kids if k.image.endswith("/run-parts")), None)
        if parts is None:
            return
        t = at + r.uniform(0.01, 0.05)
        script = log.process(t, parts, ["/bin/sh", "/etc/cron.daily/logrotate"], "/usr/bin/dash")
        lr = log.process(t + 0.004, script, ["/usr/sbin/logrotate", "/etc/logrotate.conf"], "/usr/sbin/logrotate")
        t += r.uniform(0.05, 0.3)
        logs = ["/var/log/syslog", "/var/log/auth.log"] + (["/var/log/nginx/access.log", "/var/log/nginx/error.log"]
                                                         if "http" in node.services else [])
        for name in logs:
            log.file(t, lr, name)
            t += r.uniform(0.001, 0.01)
        post = ["/usr/lib/rsyslog/rsyslog-rotate"]
        if "http" in node.services:
            post.append("invoke-rc.d nginx rotate >/dev/null 2>&1")
        for cmd in post:
            _linux.sh_c(log, t, lr, cmd)
            t += r.uniform(0.02, 0.2)

    @staticmethod
    def _backup(log: HostLog, lay, node, t: float) -> None:
        r = log.rng
        at = math.ceil(t / 60) * 60 + r.uniform(0.002, 0.04)
        length = r.uniform(3, 30)
        sh, _ = _linux.cron_job(log, lay, node.name, at, "/usr/local/sbin/backup.sh", length=length)
        t = at + r.uniform(0.005, 0.02)
        script = log.process(t, sh, ["/bin/bash", "/usr/local/sbin/backup.sh"], "/usr/bin/bash")
        dirs = ["/etc"] + [d for s in node.services for d in BACKUP_DIRS.get(s, [])]
        archive = f"/var/backups/{node.hostname}-{time.strftime('%Y%m%d-%H%M', time.gmtime(at))}.tar.gz"
        tar = log.process(t + 0.003, script, ["tar", "-czf", archive, *dirs], "/usr/bin/tar")
        log.process(t + 0.005, tar, ["gzip"], "/usr/bin/gzip")
        log.file(t + 0.006, tar, archive)
        log.process(t + length * 0.9, script, ["find", "/var/backups", "-name", "*.tar.gz", "-mtime", "+14",
                                               "-delete"], "/usr/bin/find")

    @staticmethod
    def _apt(log: HostLog, lay, node, t: float) -> None:
        r = log.rng
        init = HostLog.daemon(node.name, 1, "/usr/lib/systemd/systemd", "/sbin/init")
        daily = log.process(t, init, ["/bin/sh", "/usr/lib/apt/apt.systemd.daily", "update"], "/usr/bin/dash")
        t += r.uniform(0.01, 0.05)
        log.process(t, daily, ["apt-config", "shell", "UpdateInterval", "APT::Periodic::Update-Package-Lists"],
                    "/usr/bin/apt-config")
        t += r.uniform(0.05, 0.3)
        get = log.process(t, daily, ["apt-get", "-qq", "-y", "update"], "/usr/bin/apt-get")
        for method in ("http", "gpgv"):
            t += r.uniform(0.01, 0.2)
            log.process(t, get, [f"/usr/lib/apt/methods/{method}"], f"/usr/lib/apt/methods/{method}", user="_apt",
                        uid=42)

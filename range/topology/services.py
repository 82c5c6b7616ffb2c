"""The catalogue of network services a node can run.

One entry per service name used in environment files: where it listens, how it identifies itself
on the wire (what the synthesised server answers offline, matching what the Debian package
answers live), and which Debian packages provide it in a range image.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Service:
    name: str
    proto: str  # "tcp" or "udp"
    port: int
    banner: str = ""  # first bytes the server sends (ssh, ftp, smtp) or its Server header (http)
    packages: tuple[str, ...] = field(default=())
    description: str = ""


SERVICES: dict[str, Service] = {s.name: s for s in [
    Service("http", "tcp", 80, "nginx/1.22.1", ("nginx", "php-fpm", "php-sqlite3"), "web server (nginx + PHP)"),
    Service("https", "tcp", 443, "nginx/1.22.1", ("nginx",), "web server over TLS"),
    Service("ssh", "tcp", 22, "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3", ("openssh-server",), "OpenSSH"),
    Service("dns", "udp", 53, "", ("dnsmasq-base",), "DNS resolver and authoritative server"),
    Service("ftp", "tcp", 21, "220 (vsFTPd 3.0.3)", ("vsftpd",), "FTP file server"),
    Service("telnet", "tcp", 23, "Debian GNU/Linux 12", ("inetutils-telnetd", "openbsd-inetd"), "telnet login"),
    Service("smtp", "tcp", 25, "220 mail ESMTP Postfix (Debian/GNU)", ("postfix",), "mail transfer agent"),
    Service("ntp", "udp", 123, "", ("ntpsec",), "time server"),
    Service("mysql", "tcp", 3306, "", (), "database"),
    Service("smb", "tcp", 445, "", (), "file shares"),
    Service("rdp", "tcp", 3389, "", (), "remote desktop"),
]}


def service(name: str) -> Service:
    return SERVICES[name]

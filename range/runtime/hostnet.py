"""The host side of the range's bridges: keep the host out of the range and the range off the host.

Docker's internal networks already refuse forwarding to the outside, and the range's bridges carry
no host address (``inhibit_ipv4``). On top of that each bridge is *sealed*: no IPv6 on it (no link-local
address, no router solicitations in the capture), an ``INPUT`` rule dropping anything a container
sends to the host itself, and a ``DOCKER-USER`` rule letting frames bridged within that one network
through Docker's isolation chain (a router node forwards between subnets *inside* the range, and the
kernel's bridge netfilter would otherwise see those frames as leaving the subnet). Every rule carries
the comment ``cyberrange:<session>`` so :func:`unseal` finds them again, also after a crash.
"""
from __future__ import annotations

import ipaddress
import shlex
import shutil
import subprocess
from pathlib import Path

from range.core import RuntimeFault


def _comment(session: str) -> str:
    return f"cyberrange:{session}"


def interface_exists(name: str) -> bool:
    return Path("/sys/class/net", name).exists()


def host_subnets() -> list[ipaddress.IPv4Network]:
    """IPv4 networks the host itself has addresses or routes in (a team subnet must avoid them)."""
    out: list[ipaddress.IPv4Network] = []
    ip = shutil.which("ip")
    if not ip:
        return out
    for args in (["-4", "-o", "addr", "show"], ["-4", "route", "show", "table", "all"]):
        r = subprocess.run([ip, *args], capture_output=True, text=True)
        for line in r.stdout.splitlines():
            for word in line.split():
                if "/" in word and word[0].isdigit():
                    try:
                        net = ipaddress.ip_network(word, strict=False)
                    except ValueError:
                        continue
                    if net.version == 4 and net.prefixlen > 0 and not net.is_loopback:
                        out.append(net)
    return out


def _run(tool: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([tool, "-w", "10", *args], capture_output=True, text=True)


def _has_chain(tool: str, chain: str) -> bool:
    return _run(tool, "-S", chain).returncode == 0


def seal_bridge(bridge: str, session: str) -> None:
    """Seal one range bridge (see the module's description)."""
    v6 = Path("/proc/sys/net/ipv6/conf", bridge, "disable_ipv6")
    if v6.exists():
        v6.write_text("1\n")
    comment = ["-m", "comment", "--comment", _comment(session)]
    for tool in filter(None, (shutil.which("iptables"), shutil.which("ip6tables"))):
        r = _run(tool, "-I", "INPUT", "-i", bridge, *comment, "-j", "DROP")
        if r.returncode != 0:
            raise RuntimeFault(f"{Path(tool).name}: cannot add the INPUT rule for {bridge}: {r.stderr.strip()}")
        if Path(tool).name == "iptables" and _has_chain(tool, "DOCKER-USER"):
            r = _run(tool, "-I", "DOCKER-USER", "-i", bridge, "-o", bridge, *comment, "-j", "ACCEPT")
            if r.returncode != 0:
                raise RuntimeFault(f"iptables: cannot add the DOCKER-USER rule for {bridge}: {r.stderr.strip()}")


def unseal(session: str) -> int:
    """Remove every rule :func:`seal_bridge` added for ``session``; returns how many."""
    removed = 0
    needle = _comment(session)
    for tool in filter(None, (shutil.which("iptables"), shutil.which("ip6tables"))):
        for chain in ("INPUT", "DOCKER-USER"):
            r = _run(tool, "-S", chain)
            for line in r.stdout.splitlines():
                words = shlex.split(line)
                if "--comment" in words and words[words.index("--comment") + 1] == needle and words[0] == "-A":
                    if _run(tool, "-D", *words[1:]).returncode == 0:
                        removed += 1
    return removed

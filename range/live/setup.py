"""What a team's nodes need before the scenario plays: the logins its steps use, the names its
scripts expect the team's resolver to answer, and the intruder's own servers (:mod:`range.live.c2`)."""
from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import tarfile
from pathlib import Path

from scapy.layers.dns import DNS

from range.core import RuntimeFault, require_tool
from range.runtime import container, dns_records, netns, procs
from range.topology import Layout
from range.traffic import UdpExchange


def add_accounts(session: str, team: str, accounts) -> None:
    """Create the logins a step will use (node, login, password) on the team's nodes."""
    script = ('id "$CR_U" >/dev/null 2>&1 || useradd -m -s /bin/bash "$CR_U"; '
              'printf "%s:%s\\n" "$CR_U" "$CR_P" | chpasswd')
    for node, login, password in dict.fromkeys(accounts):
        r = container(session, team, node).exec_run(["sh", "-c", script], environment={"CR_U": login, "CR_P": password})
        if r.exit_code != 0:
            raise RuntimeFault(f"team {team}: cannot create login {login} on {node}: "
                               f"{r.output.decode(errors='replace').strip()[-300:]}")


def dns_answers(actions) -> dict[str, str]:
    """Names the scripts expect the team's resolver to answer, with the address they expect
    (read from the answers the offline synthesis would have given); everything else stays
    NXDOMAIN, as the scripts expect."""
    out: dict[str, str] = {}
    for a in actions:
        if not isinstance(a, UdpExchange) or a.dport != 53:
            continue
        for _d, side, data in a.messages:
            if side != "s":
                continue
            try:
                m = DNS(data)
            except Exception:  # noqa: BLE001 - a script's non-DNS payload on port 53
                continue
            if m.rcode != 0 or not m.qd or not m.an:
                continue
            qname = m.qd[0].qname.decode(errors="replace").rstrip(".")
            for i in range(m.ancount or 0):
                rr = m.an[i]
                if rr.type == 1:
                    out.setdefault(qname, rr.rdata)
                    break
    return out


def serve_dns(session: str, team: str, lay: Layout, extra: dict[str, str]) -> None:
    """Add ``extra`` names to the team's resolver (dnsmasq re-reads its hosts file on SIGHUP)."""
    nodes = lay.env.nodes_with("dns")
    if not nodes or not extra:
        return
    lines = [f"{r.split('=', 1)[1]} {r.split('=', 1)[0]}" for r in dns_records(lay)]
    lines += [f"{ip} {name}" for name, ip in sorted(extra.items())]
    data = ("\n".join(lines) + "\n").encode()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("cr-hosts")
        info.size, info.mode = len(data), 0o644
        tar.addfile(info, io.BytesIO(data))
    c = container(session, team, nodes[0])
    c.put_archive("/etc", buf.getvalue())
    for proc in c.top(ps_args="-eo pid,comm")["Processes"]:
        if proc[-1] == "dnsmasq":
            os.kill(int(proc[0]), signal.SIGHUP)


def start_c2(session: str, team: str, node: str, logdir: Path) -> procs.Proc:
    """The intruder's servers (range.live.c2) in the attacker node, its kernel's echo replies off: the
    running ones after a restart, else new (a detached process that ends when the node is gone)."""
    running = procs.find(session, f"c2-{team}")
    if running is not None:
        return running
    pid = container(session, team, node).attrs["State"]["Pid"]
    nsenter = require_tool("nsenter", "util-linux")
    subprocess.run([nsenter, f"--net={netns.path(pid)}", "--", "sysctl", "-q", "-w",
                    "net.ipv4.icmp_echo_ignore_all=1"], check=False, capture_output=True)
    return procs.spawn(session, f"c2-{team}", [nsenter, f"--net={netns.path(pid)}", "--", sys.executable, "-m",
                                               "range.live.c2", "--watch", str(pid)], log=logdir / "c2.err")

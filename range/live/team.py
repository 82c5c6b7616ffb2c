"""One team's copy of the live range at work: plans, actuators, sensors, and ground truth.

:class:`LiveTeam` holds one team's part of a running session: the sensors on its bridges (events
and a ring of pcaps), the actuators that act out benign traffic and attack steps inside its
nodes' network namespaces (planned by the same scripts as offline), the team resolver's names
and the logins its steps need, and the ground truth built from what the actuators sent and what
the sensor captured.

Sensors, actuators and the intruder's servers run as detached processes (:mod:`range.procs`):
they go on while the orchestrator is down, and a :class:`LiveTeam` built again after a restart
attaches to those still running (by their names, ``sensor-<team>-<network>``,
``act-<team>-<owner>-<node>``, ``c2-<team>``) instead of starting them twice.
"""
from __future__ import annotations

import json
import pickle
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from range.runtime import procs
from range.events.capture import read_status
from range.replay.offline import step_context, step_start
from range.scenario.model import Scenario
from range.core.seeds import rng
from range.traffic.techniques import BENIGN, BenignContext, Names
from range.topology.environment import Layout
from range.traffic.actions import RawFrames
from range.scoring.truth import StepTruth, Truth, compact_flows

Progress = Callable[[str], None]
LEAD = 3.0  # an actuator starts this many seconds before its first action
SETTLE = 4.0  # seconds after the last step for the sensor to emit the last connections
POLL = 0.25  # seconds between detection polls


def _client_ip(action) -> str:
    if isinstance(action, RawFrames):
        return action.frames[0][2][0] if action.frames else ""
    return action.client


def split_by_node(actions, lay: Layout, default: str) -> dict[str, list]:
    """Actions grouped by the node that must act them out (its address is the client's)."""
    out: dict[str, list] = {}
    for a in actions:
        if isinstance(a, RawFrames):  # frames may come from several hosts (benign ARP)
            per: dict[str, list] = {}
            for f in a.frames:
                h = lay.by_ip.get(f[2][0])
                per.setdefault(h.name if h else default, []).append(f)
            for node, frames in per.items():
                out.setdefault(node, []).append(RawFrames(frames))
            continue
        h = lay.by_ip.get(_client_ip(a))
        out.setdefault(h.name if h else default, []).append(a)
    return out


@dataclass
class Actuation:
    node: str
    proc: procs.Proc
    log: Path


@dataclass
class LiveTeam:
    session: str
    team: str
    layout: Layout
    dir: Path
    watched: list[str]
    sensors: dict[str, procs.Proc] = field(default_factory=dict)  # network -> its sensor process
    running: list[Actuation] = field(default_factory=list)
    sent: dict[str, list[Path]] = field(default_factory=dict)  # step id -> actuator logs
    stats: dict | None = None

    def _status(self, net: str) -> Path:
        return self.dir / f"sensor-{net}.json"

    def start_sensors(self, bridges: dict[str, str]) -> list[str]:
        """A sensor on each watched bridge: the one already running, else a new one. Returns the
        networks where an earlier sensor had stopped and a new one started (with what it reported)."""
        from range.events.store import Store
        if not (self.dir / "events.db").exists():  # readers can open it before the sensor's first write
            Store(self.dir / "events.db").close()
        started = []
        for net in self.watched:
            name = f"sensor-{self.team}-{net}"
            proc = procs.find(self.session, name)
            if proc is None:
                before = read_status(self._status(net)) if self._status(net).exists() else None
                proc = procs.spawn(self.session, name, [
                    sys.executable, "-m", "range.events.capture", "--iface", bridges[net], "--db", str(self.dir / "events.db"),
                    "--ring", str(self.dir / "pcap" / net), "--status", str(self._status(net))],
                    log=self.dir / f"sensor-{net}.err", stop_signal=signal.SIGINT)
                if before is not None:
                    started.append(f"{net} (it had reported: {'; '.join(before['errors']) or 'no error'})")
            self.sensors[net] = proc
        return started

    def act(self, owner: str, node: str, actions: list) -> Actuation:
        """Start an actuator in ``node``'s network namespace for these actions (a detached process
        that ends with its plan, or when the node is gone)."""
        from range.runtime import netns
        from range.runtime.engine import require_tool
        from range.runtime.lifecycle import container
        c = container(self.session, self.team, node)
        pid = c.attrs["State"]["Pid"]
        ifaces = netns.interfaces(pid)
        host = self.layout.host(node)
        iface, mac = ifaces.get(host.ip, ("eth0", host.mac))
        next_hop = {ip: h.macs[n] for n in host.ips for h in self.layout.hosts.values() if n in h.macs
                    for ip in [h.ips[n]]}
        gw = self.layout.env.networks[next(iter(host.ips))].gateway
        if gw:
            next_hop["default"] = self.layout.hosts[gw].macs[next(iter(host.ips))]
        d = self.dir / "actuators"
        d.mkdir(parents=True, exist_ok=True)
        plan, log = d / f"{owner}-{node}.plan", d / f"{owner}-{node}.jsonl"
        log.unlink(missing_ok=True)
        with open(plan, "wb") as f:
            pickle.dump({"actions": actions, "log": str(log), "iface": iface, "mac": mac, "next_hop": next_hop,
                         "watch_pid": pid}, f)
        nsenter = require_tool("nsenter", "util-linux")
        proc = procs.spawn(self.session, f"act-{self.team}-{owner}-{node}",
                           [nsenter, f"--net={netns.path(pid)}", "--", sys.executable, "-m", "range.live.actuator", str(plan)],
                           log=d / f"{owner}-{node}.err")
        run = Actuation(node, proc, log)
        self.running.append(run)
        return run

    def actuator(self, owner: str, node: str) -> procs.Proc | None:
        """The actuator still running for ``owner`` (a step id, or "benign") on ``node``."""
        return procs.find(self.session, f"act-{self.team}-{owner}-{node}")

    def attach_actuators(self) -> None:
        """After a restart: follow the actuators that still run."""
        for p in procs.recorded(self.session, f"act-{self.team}-"):
            owner_node = p.name[len(f"act-{self.team}-"):]
            self.running.append(Actuation(owner_node, p, self.dir / "actuators" / f"{owner_node}.jsonl"))

    def wait_actuators(self, timeout: float) -> None:
        end = time.time() + timeout
        for a in self.running:
            if not a.proc.wait(max(0.1, end - time.time())):
                a.proc.stop(1.0, signal.SIGKILL)

    def stop(self) -> dict:
        """Stop actuators and sensors (once; later calls return the same figures): each sensor
        writes what it captured before it ends."""
        if self.stats is not None:
            return self.stats
        for a in self.running:
            a.proc.stop(2.0, signal.SIGKILL)
        for p in self.sensors.values():
            p.signal(p.stop_signal)
        for p in self.sensors.values():
            p.stop(60.0)
        stats = [read_status(self._status(net)) for net in self.sensors]
        self.stats = {"packets": sum(s["packets"] for s in stats), "records": sum(s["records"] for s in stats),
                      "dropped": sum(s["dropped"] for s in stats), "errors": [e for s in stats for e in s["errors"]]}
        return self.stats

    def pcaps(self) -> list[Path]:
        return [p for net in self.watched for p in sorted((self.dir / "pcap" / net).glob("ring_*.pcap"))]


def sent_keys(logs: list[Path]) -> tuple[set[tuple], float, float]:
    keys, first, last = set(), float("inf"), 0.0
    for log in logs:
        if not log.exists():
            continue
        for line in log.read_text().splitlines():
            r = json.loads(line)
            if r["packets"]:
                keys.add(tuple(r["key"]))
                first, last = min(first, r["first"]), max(last, r["last"])
    return keys, first, last


def capture_rows(pcaps: list[Path], lo: float | None = None, hi: float | None = None) -> list[tuple]:
    """(time, flow key as client->server is unknown: src, dst, proto, sport, dport, eth src) of every
    packet, or of those captured between ``lo`` and ``hi`` (files written last before ``lo`` are skipped)."""
    from range.events.tshark import tshark
    out = []
    names = {"1": "icmp", "6": "tcp", "17": "udp"}
    window = [] if lo is None else ["-Y", f"frame.time_epoch >= {lo:.6f} && frame.time_epoch <= {hi:.6f}"]
    for p in pcaps:
        try:
            if lo is not None and p.stat().st_mtime < lo - 5:
                continue
        except OSError:
            continue
        r = subprocess.run([tshark(), "-n", "-r", str(p), *window, "-T", "fields", "-E", "occurrence=f", "-e", "frame.time_epoch",
                            "-e", "ip.src", "-e", "ip.dst", "-e", "ip.proto", "-e", "tcp.srcport", "-e", "tcp.dstport",
                            "-e", "udp.srcport", "-e", "udp.dstport", "-e", "arp.src.proto_ipv4",
                            "-e", "arp.dst.proto_ipv4", "-e", "eth.src"], capture_output=True, text=True)
        for line in r.stdout.splitlines():
            ts, src, dst, proto, tsp, tdp, usp, udp_, asrc, adst, esrc = (line.split("\t") + [""] * 11)[:11]
            if asrc:
                out.append((float(ts), (asrc, adst, "arp", None, None, esrc)))
            elif proto in names:
                sp, dp = (tsp or usp), (tdp or udp_)
                out.append((float(ts), (src, dst, names[proto], int(sp) if sp else None, int(dp) if dp else None, None)))
    out.sort(key=lambda r: r[0])
    return out


def step_truth_live(step, keys: set[tuple], first: float, last: float, rows: list[tuple]) -> StepTruth | None:
    """The step's packets in the capture: those of the flows its actuators sent, near when they sent them."""
    def norm(k):
        return k if k[2] != "icmp" else (k[0], k[1], "icmp", None, None, None)
    want = {norm(k) for k in keys}
    rev = {(k[1], k[0], k[2], k[4], k[3], k[5]) for k in want}
    mine, times = set(), []
    lo, hi = first - 0.5, last + SETTLE
    window = [r for r in rows if lo <= r[0] <= hi]
    for t, k in window:
        k = norm(k)
        if k in want or (k[2] != "arp" and k in rev):
            times.append(t)
            mine.add(k if k in want else (k[1], k[0], k[2], k[4], k[3], k[5]))
    if not times:
        return None
    start, end = min(times), max(times)
    foreign = list({norm(k) for t, k in window if start <= t <= end} - want - rev)
    flows = compact_flows(mine, foreign)
    return StepTruth(step.id, step.technique.name, step.attack, step.tactic, step.spec.points, start, end,
                     len(times), flows, step.spec.briefing.strip())


def build_truth(scn: Scenario, team: LiveTeam, seed: int, start: float, rows: list[tuple] | None = None,
                done: dict | None = None) -> Truth:
    """The truth of every step launched so far. Without ``rows`` each step reads only the packets
    of its own time window from the ring; steps whose actuators have ended and whose packets are
    all in are kept in ``done`` (step id -> StepTruth) and not read again."""
    truth = Truth(scn.name, seed, team.team, start=start, end=start + scn.spec.duration,
                  scoring=scn.spec.scoring.model_dump())
    for st in scn.steps:
        if done is not None and st.id in done:
            truth.steps.append(done[st.id])
            continue
        logs = team.sent.get(st.id, [])
        keys, first, last = sent_keys(logs)
        if keys:
            r = rows if rows is not None else capture_rows(team.pcaps(), first - 0.5, last + SETTLE)
            t = step_truth_live(st, keys, first, last, r)
            if t is not None:
                truth.steps.append(t)
                ended = not any(procs.find(team.session, f"act-{team.team}-{log.stem}") for log in logs)
                if done is not None and ended and time.time() > last + SETTLE:
                    done[st.id] = t
    return truth


def benign_plan(scn: Scenario, lay: Layout, seed: int, team: str, start: float) -> dict[str, list]:
    """Each node's benign actions for the whole scenario, from the same generators as offline."""
    clients = [lay.host(c) for c in scn.env.spec.benign.clients]
    per_node: dict[str, list] = {}
    for kind, params in scn.benign.items():
        ctx = BenignContext(layout=lay, t0=start, duration=scn.spec.duration, clients=clients, params=params,
                            rng=rng("benign", seed, team, scn.name, kind),
                            names=Names(rng("benign-names", seed, team, scn.name, kind)), domain=scn.env.spec.domain)
        for node, acts in split_by_node(list(BENIGN.get(kind).generate(ctx)), lay, clients[0].name).items():
            per_node.setdefault(node, []).extend(acts)
    return per_node


def step_plan(scn: Scenario, lay: Layout, st, seed: int, team: str, start: float):
    """(start, actions per node, accounts the step needs on its targets) for one step."""
    t0 = start + (step_start(scn, st, seed, team) - scn.start.timestamp())
    ctx = step_context(scn, lay, st, seed, team, t0)
    per_node = split_by_node(list(st.technique.generate(ctx)), lay, st.spec.source)
    return t0, per_node, ctx.extra.get("accounts", [])


def add_accounts(session: str, team: str, accounts) -> None:
    """Create the logins a step will use (node, login, password) on the team's nodes."""
    from range.core.errors import RuntimeFault
    from range.runtime.lifecycle import container
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
    from scapy.layers.dns import DNS
    from range.traffic.actions import UdpExchange
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
    import io
    import os
    import signal
    import tarfile
    from range.runtime.lifecycle import container, dns_records
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
    """The intruder's servers (range.c2) in the attacker node, its kernel's echo replies off: the
    running ones after a restart, else new (a detached process that ends when the node is gone)."""
    from range.runtime import netns
    from range.runtime.engine import require_tool
    from range.runtime.lifecycle import container
    running = procs.find(session, f"c2-{team}")
    if running is not None:
        return running
    pid = container(session, team, node).attrs["State"]["Pid"]
    nsenter = require_tool("nsenter", "util-linux")
    subprocess.run([nsenter, f"--net={netns.path(pid)}", "--", "sysctl", "-q", "-w",
                    "net.ipv4.icmp_echo_ignore_all=1"], check=False, capture_output=True)
    return procs.spawn(session, f"c2-{team}", [nsenter, f"--net={netns.path(pid)}", "--", sys.executable, "-m",
                                               "range.live.c2", "--watch", str(pid)], log=logdir / "c2.err")


def detection_latency(alerts: list[dict], truth: Truth) -> list[float]:
    """Per true alert: seconds from the packet that completed its evidence (the last event it
    rests on that had ended by the raise; a connection ends with its last packet) to the raise."""
    from range.core.clock import parse_iso
    from range.scoring.score import event_in_step, event_key
    out = []
    for a in alerts:
        raised = parse_iso(a["raised_at"])
        keys = [(event_key(ev), ev) for ev in a.get("events", [])]
        if not any(event_in_step(k, s) for k, _ev in keys for s in truth.steps):
            continue
        done = [k[0] + float(ev.get("duration") or 0) for k, ev in keys]
        before = [t for t in done if t <= raised]
        if before:
            out.append(round(raised - max(before), 3))
    return out

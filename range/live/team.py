"""One team's copy of the live range at work: its sensors and its actuators.

:class:`LiveTeam` holds one team's part of a running session: the sensors on its bridges (events
and a ring of pcaps) and the actuators that act out benign traffic and attack steps inside its
nodes' network namespaces (planned by :mod:`range.replay.plan`, like offline).

Sensors, actuators and the intruder's servers run as detached processes
(:mod:`range.runtime.procs`): they go on while the orchestrator is down, and a :class:`LiveTeam`
built again after a restart attaches to those still running (by their names,
``sensor-<team>-<network>``, ``act-<team>-<owner>-<node>``, ``c2-<team>``) instead of starting
them twice.
"""
from __future__ import annotations

import pickle
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from range.core import TeamDir, require_tool
from range.events import EventStore, read_status
from range.runtime import container, netns, procs
from range.topology import Layout
from range.traffic import RawFrames

LEAD = 3.0  # an actuator starts this many seconds before its first action
SETTLE = 4.0  # seconds after the last step for the sensor to emit the last connections


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


def first_time(action) -> float:
    """When an action begins (its first frame for raw frames)."""
    return action.frames[0][0] if isinstance(action, RawFrames) and action.frames else getattr(action, "t", 0.0)


def sensor_totals(d: TeamDir, networks: list[str]) -> dict:
    """What a team's sensors reported, added up: packets, records, drops and errors."""
    stats = [read_status(d.sensor_status(net)) for net in networks]
    return {"packets": sum(s["packets"] for s in stats), "records": sum(s["records"] for s in stats),
            "dropped": sum(s["dropped"] for s in stats), "errors": [e for s in stats for e in s["errors"]]}


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
    dir: TeamDir
    watched: list[str]
    sensors: dict[str, procs.Proc] = field(default_factory=dict)  # network -> its sensor process
    running: list[Actuation] = field(default_factory=list)
    sent: dict[str, list[Path]] = field(default_factory=dict)  # step id -> actuator logs
    stats: dict | None = None

    def start_sensors(self, bridges: dict[str, str]) -> list[str]:
        """A sensor on each watched bridge: the one already running, else a new one. Returns the
        networks where an earlier sensor had stopped and a new one started (with what it reported)."""
        if not self.dir.events.exists():  # readers can open it before the sensor's first write
            EventStore(self.dir.events).close()
        started = []
        for net in self.watched:
            name = f"sensor-{self.team}-{net}"
            proc = procs.find(self.session, name)
            if proc is None:
                status = self.dir.sensor_status(net)
                before = read_status(status) if status.exists() else None
                proc = procs.spawn(self.session, name, [
                    sys.executable, "-m", "range.events.capture", "--iface", bridges[net],
                    "--db", str(self.dir.events), "--ring", str(self.dir.ring(net)), "--status", str(status)],
                    log=self.dir.sensor_log(net), stop_signal=signal.SIGINT)
                if before is not None:
                    started.append(f"{net} (it had reported: {'; '.join(before['errors']) or 'no error'})")
            self.sensors[net] = proc
        return started

    def act(self, owner: str, node: str, actions: list) -> Actuation:
        """Start an actuator in ``node``'s network namespace for these actions (a detached process
        that ends with its plan, or when the node is gone)."""
        pid = container(self.session, self.team, node).attrs["State"]["Pid"]
        host = self.layout.host(node)
        iface, mac = netns.interfaces(pid).get(host.ip, ("eth0", host.mac))
        net = next(iter(host.ips))
        next_hop = {h.ips[n]: h.macs[n] for n in host.ips for h in self.layout.hosts.values() if n in h.macs}
        gw = self.layout.env.networks[net].gateway
        if gw:
            next_hop["default"] = self.layout.hosts[gw].macs[net]
        self.dir.actuators.mkdir(parents=True, exist_ok=True)
        plan, log = self.dir.actuator(owner, node, ".plan"), self.dir.actuator(owner, node, ".jsonl")
        log.unlink(missing_ok=True)
        with open(plan, "wb") as f:
            pickle.dump({"actions": actions, "log": str(log), "iface": iface, "mac": mac, "next_hop": next_hop,
                         "watch_pid": pid}, f)
        nsenter = require_tool("nsenter", "util-linux")
        proc = procs.spawn(self.session, f"act-{self.team}-{owner}-{node}",
                           [nsenter, f"--net={netns.path(pid)}", "--", sys.executable, "-m", "range.live.actuator",
                            str(plan)], log=self.dir.actuator(owner, node, ".err"))
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
            self.running.append(Actuation(owner_node, p, self.dir.actuators / f"{owner_node}.jsonl"))

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
        self.stats = sensor_totals(self.dir, list(self.sensors))
        return self.stats

    def pcaps(self) -> list[Path]:
        return self.dir.ring_pcaps(self.watched)

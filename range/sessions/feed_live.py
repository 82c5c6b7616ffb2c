"""The ``live`` feed: a session on the live range, from the web console or the command line.

Events come from the sensors on the team bridges; the feed launches each step when the session
clock reaches it (not while paused), and rewrites each team's ``truth.json`` as its steps
complete. Sensors, actuators and the intruder's servers are detached processes: they go on while
the orchestrator is down. After a restart the feed finds the range by its labels, attaches to the
processes still running, restarts a sensor that died, does not launch a step twice
(``launched.json`` in each team's folder and the actuators still running), and launches the steps
that fell due meanwhile. At the end it stops the sensors (each writes what it captured), merges
each team's ring of pcaps into ``capture.pcap``, writes the final truth and takes the range down
(unless the session was created with ``keep_range``).
"""
from __future__ import annotations

import json
import logging
import subprocess
import time
from pathlib import Path

from range.core import require_tool, team_seed, write_json
from range.events import EventStore
from range.live import (
    LEAD,
    SETTLE,
    LiveTeam,
    build_truth,
    first_time,
    hostwatch,
    node_plan,
    ready_nodes,
    split_by_node,
)
from range.replay import step_plan
from range.runtime import bridges, down, layouts, procs, up
from range.scenario import Scenario
from range.scoring import Truth
from range.sessions.feed import Feed

log = logging.getLogger("cyberrange.live")


class LiveFeed(Feed):
    mode = "live"
    seen_detection = True
    CHECK_EVERY = 5.0  # seconds between checks that every sensor still runs

    def __init__(self, session, teams, store):
        super().__init__(session, teams, store)
        self.live: dict[str, LiveTeam] = {}
        self.pending: list[tuple[float, str, object]] = []  # (scenario time, team, step)
        self.truth_due: dict[str, float] = {}  # team -> wall time its truth should be rebuilt
        self.scn: Scenario | None = None
        self.bridges: dict[str, dict[str, str]] = {}
        self.checked = 0.0
        self.restarted: list[str] = []  # sensors that had died and were started again
        self.built: dict[str, dict] = {}  # team -> step id -> its truth, once the step is over
        self.schedule = "{}"  # the session's moved steps as last read (a move reschedules what is pending)

    def prepare(self, scn, seed_of, start, progress) -> None:
        seed = self.store.session(self.session)["seed"]
        up(scn.env, self.session, list(self.teams), seed=seed, progress=progress)
        for team, d in self.teams.items():
            EventStore(d.events).close()
            Truth(scn.name, seed_of(team), team, [], start, start + scn.spec.duration,
                  scn.spec.scoring.model_dump()).write(d.truth)

    def _launched(self, team: str) -> dict:
        p = self.teams[team].launched
        return json.loads(p.read_text()) if p.exists() else {}

    def start(self) -> None:
        row = self.store.session(self.session)
        self.scn = scn = self.store.scenario(self.session)
        self.schedule = row["schedule"]
        clock = self.store.clock(row)
        lays, self.bridges = layouts(self.session), bridges(self.session)
        self._host_sensor()
        wall = time.time()
        origin = clock.scenario_start + (wall - clock.now(wall))  # the scenario's start in wall time
        for team, d in self.teams.items():
            lt = self.live[team] = LiveTeam(self.session, team, lays[team], d, list(scn.env.spec.sensor.networks))
            plan = node_plan(scn, lt, team_seed(row["seed"], team), origin)
            self.restarted += [f"{team}/{n}" for n in ready_nodes(scn, lt, plan, self.bridges[team])]
            lt.attach_actuators()
            self._start_benign(lt, plan.benign, wall)
            self._schedule(team, lt, plan, clock.scenario_start)
        self.pending.sort(key=lambda p: (p[0], p[1]))
        self.checked = wall

    def _start_benign(self, lt: LiveTeam, benign: dict[str, list], wall: float) -> None:
        for node, node_acts in benign.items():
            if lt.actuator("benign", node) is not None:
                continue  # still running since before a restart
            due = [a for a in node_acts if first_time(a) >= wall]
            if due:
                lt.act("benign", node, due)

    def _host_sensor(self) -> None:
        _proc, again = hostwatch.start(self.session, self.teams, [self.scn.env.spec.attacker])
        if again:
            self.restarted.append("host sensor")
            log.warning("session %s: the host sensor had stopped; started again", self.session)

    def _schedule(self, team: str, lt: LiveTeam, plan, scenario_start: float) -> None:
        launched = self._launched(team)
        for sp, per_node in plan.steps:
            st = sp.step
            running = [n for n in per_node if lt.actuator(st.id, n) is not None]
            if st.id in launched or running:
                logs = launched.get(st.id) or [str(lt.dir.actuator(st.id, n, ".jsonl")) for n in per_node]
                lt.sent[st.id] = [Path(p) for p in logs]
            else:
                self.pending.append((scenario_start + st.spec.at, team, st))
        if launched:  # steps may have ended while no orchestrator was there to write the truth
            self.truth_due[team] = time.time() + SETTLE

    def advance(self, now: float) -> int:
        changed = 0
        row = self.store.session(self.session)
        wall = time.time()
        if row["schedule"] != self.schedule:
            self._reschedule(row)
        while self.pending and self.pending[0][0] - LEAD <= now:
            changed += self._launch(row, now, wall, *self.pending.pop(0))
        for team, due in list(self.truth_due.items()):
            if wall >= due:
                self._truth(team)
                del self.truth_due[team]
                changed += 1
        if wall - self.checked >= self.CHECK_EVERY:  # a sensor that died is started again (and said so)
            self.checked = wall
            self._host_sensor()
            for team, lt in self.live.items():
                for net in lt.start_sensors(self.bridges[team]):
                    self.restarted.append(f"{team}/{net}")
                    log.warning("session %s: the sensor of team %s on %s had stopped; started again",
                                self.session, team, net)
        return changed

    def _reschedule(self, row) -> None:
        """The instructor moved a step (or fired it now): what has not been launched follows."""
        self.schedule = row["schedule"]
        self.scn = self.store.scenario(self.session)
        self.pending = sorted(((row["scenario_start"] + self.scn.step(st.id).spec.at, team, self.scn.step(st.id))
                               for _t, team, st in self.pending), key=lambda p: (p[0], p[1]))

    def _launch(self, row, now: float, wall: float, t: float, team: str, st) -> int:
        lt = self.live[team]
        late = now - (t - LEAD)  # a step that fell due while no orchestrator ran starts now, as planned
        shift = late if late > 1.0 else 0.0
        origin = row["scenario_start"] + (wall - now) + shift
        sp = step_plan(self.scn, lt.layout, st, team_seed(row["seed"], team), team, origin)
        per_node = split_by_node(sp.actions, lt.layout, st.spec.source)
        lt.sent[st.id] = [lt.act(st.id, node, acts).log for node, acts in per_node.items()]
        launched = self._launched(team)
        launched[st.id] = [str(p) for p in lt.sent[st.id]]
        write_json(self.teams[team].launched, launched)
        self.truth_due[team] = wall + st.duration + SETTLE
        return 1

    def _truth(self, team: str) -> None:
        row = self.store.session(self.session)
        lt = self.live[team]
        truth = build_truth(self.scn, lt, team_seed(row["seed"], team), row["scenario_start"],
                            done=self.built.setdefault(team, {}))
        truth.write(lt.dir.truth)

    def stop(self) -> None:
        """Only this process lets go: sensors, actuators and servers go on (a restart attaches)."""
        self.live.clear()
        self.pending.clear()

    def finish(self) -> None:
        teams = list(self.live)
        for lt in self.live.values():
            lt.wait_actuators(2)
        for team in teams:
            self.live[team].stop()
        hostwatch.stop(self.session)
        self.built.clear()  # the final truth reads every step again, from the pcaps the sensors closed
        for team in teams:
            self._truth(team)
            self._merge_capture(self.live[team])
            c2 = procs.find(self.session, f"c2-{team}")
            if c2 is not None:
                c2.stop(2.0)
        self.stop()
        if not json.loads(self.store.session(self.session)["options"] or "{}").get("keep_range"):
            down(self.session)  # also stops any process of the session still recorded

    @staticmethod
    def _merge_capture(lt: LiveTeam) -> None:
        """The team's ring of pcaps as one ``capture.pcap`` (for downloads and the after-action work)."""
        pcaps = lt.pcaps()
        if pcaps:
            subprocess.run([require_tool("mergecap", "wireshark-common"), "-F", "pcap", "-w", str(lt.dir.capture),
                            *map(str, pcaps)], check=False, capture_output=True)

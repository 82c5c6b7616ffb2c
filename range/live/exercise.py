"""Exercises on the live range: real containers, real services, real packets, detected as they happen.

:func:`run_live` is ``cyberrange exercise run --live``: it brings the range up, plays the scenario
in real time for every team, detects incrementally, scores, writes the same files as an offline
run and takes the range down (unless ``keep``). :class:`LiveFeed` is the same machinery for a
session the instructor drives from the web console (its mode ``live``).

Both detect by the sensors' write time (:meth:`range.detector.Detector.poll_seen`): an alert is
raised when the sensor wrote the record that raised it, however late the detector reads it.
"""
from __future__ import annotations

import json
import logging
import subprocess
import time
from pathlib import Path
from typing import Callable

from range.runtime import procs
from range.sessions.feeds import Feed, feed
from range.live.team import (LEAD, POLL, SETTLE, LiveTeam, add_accounts, benign_plan, build_truth, capture_rows,
                            detection_latency, dns_answers, serve_dns, start_c2, step_plan)
from range.scenario.model import Scenario
from range.scoring.truth import Truth, write_json

Progress = Callable[[str], None]
log = logging.getLogger("cyberrange.live")


def run_live(scn: Scenario, teams, out: str | Path, seed: int = 1, keep: bool = False,
             progress: Progress = lambda m: None) -> dict:
    from range.runtime import lifecycle as runtime
    from range.detect.rules import load_rules
    from range.exercise.offline import rank, team_seed
    from range.scoring.score import score
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    session = f"ex{int(time.time()) % 10**8}"
    began = time.perf_counter()
    progress(f"bringing the range up: session {session}, teams {', '.join(t.name for t in teams)}")
    sess = runtime.up(scn.env, session, [t.name for t in teams], seed=seed, progress=progress)
    live: dict[str, LiveTeam] = {}
    servers: list[procs.Proc] = []
    try:
        bridges = runtime.bridges(session)
        start = time.time() + 8.0
        plans = []
        for t in teams:
            d = out / t.name
            d.mkdir(parents=True, exist_ok=True)
            for p in d.glob("events.db*"):
                p.unlink()
            lt = live[t.name] = LiveTeam(session, t.name, sess.teams[t.name].layout, d, list(scn.env.spec.sensor.networks))
            s = team_seed(seed, t.name)
            every = benign_plan(scn, lt.layout, s, t.name, start)
            steps = [(st,) + step_plan(scn, lt.layout, st, s, t.name, start) for st in scn.steps]
            acts = [a for v in every.values() for a in v] + [a for _st, _t0, per, _a in steps for v in per.values() for a in v]
            serve_dns(session, t.name, lt.layout, dns_answers(acts))
            add_accounts(session, t.name, [acc for *_x, accs in steps for acc in accs])
            servers.append(start_c2(session, t.name, scn.env.spec.attacker, d / "actuators"))
            lt.start_sensors(bridges[t.name])
            for node, acts in every.items():
                lt.act("benign", node, acts)
            plans += [(t0, lt, st.id, per) for st, t0, per, _a in steps]
        progress(f"scenario {scn.name} starts in {start - time.time():.0f}s; it runs {scn.spec.duration:.0f}s in real time")
        detectors = {t.name: load_rules(t.rules).detector(out / t.name / "events.db") for t in teams}
        found: dict[str, dict[str, dict]] = {t.name: {} for t in teams}
        end = start + scn.spec.duration
        plans.sort(key=lambda p: p[0])
        last_report = 0.0
        while time.time() < end + SETTLE:
            now = time.time()
            while plans and plans[0][0] - LEAD <= now:
                t0, lt, sid, per_node = plans.pop(0)
                lt.sent[sid] = [lt.act(sid, node, acts).log for node, acts in per_node.items()]
                progress(f"[{lt.team}] step {sid} at {t0 - start:.0f}s")
            for name, det in detectors.items():
                for a in det.poll_seen():
                    old = found[name].get(a["id"])
                    found[name][a["id"]] = dict(a, raised_at=old["raised_at"]) if old else a
            if now - last_report >= 30:
                last_report = now
                progress(f"{now - start:.0f}s of {scn.spec.duration:.0f}s; alerts: "
                         + ", ".join(f"{n} {len(a)}" for n, a in found.items()))
            time.sleep(POLL)
        stats = {}
        for name, lt in live.items():
            lt.wait_actuators(5)
            stats[name] = lt.stop()
            for a in detectors[name].poll_seen():  # the sensors' last records (their watermark is now inf)
                old = found[name].get(a["id"])
                found[name][a["id"]] = dict(a, raised_at=old["raised_at"]) if old else a
            detectors[name].close()
        scores = []
        for t in teams:
            lt = live[t.name]
            pcaps = lt.pcaps()
            if pcaps:
                subprocess.run(["mergecap", "-F", "pcap", "-w", str(lt.dir / "capture.pcap"), *map(str, pcaps)], check=False)
            truth = build_truth(scn, lt, team_seed(seed, t.name), start, capture_rows(pcaps))
            truth.write(lt.dir / "truth.json")
            alerts = sorted(found[t.name].values(), key=lambda a: (a["raised_at"], a["id"]))
            write_json(lt.dir / "alerts.json", {"alerts": alerts, "errors": detectors[t.name].errors})
            s = score(truth, alerts)
            s["sensor"] = stats[t.name]
            s["latency"] = detection_latency(alerts, truth)
            write_json(lt.dir / "score.json", s)
            scores.append(s)
        results = {"scenario": scn.name, "environment": scn.env.name, "mode": "live", "seed": seed,
                   "session": session, "seconds": round(time.perf_counter() - began, 2), "ranking": rank(scores),
                   "sensor": stats}
        write_json(out / "results.json", results)
        return results
    finally:
        for lt in live.values():
            lt.stop()
        for p in servers:
            p.stop(2.0)
        if not keep:
            progress(f"taking session {session} down")
            runtime.down(session)
        else:
            progress(f"session {session} kept running: 'cyberrange down {session}' removes it")




@feed
class LiveFeed(Feed):
    """A web-console session on the live range: events come from the sensors on the team bridges;
    the feed launches each step when the session clock reaches it (not while paused), and
    rewrites each team's truth.json as its steps complete. Sensors, actuators and the intruder's
    servers are detached processes: they go on while the orchestrator is down. After a restart
    the feed finds the range by its labels, attaches to the processes still running, restarts a
    sensor that died, does not launch a step twice (``launched.json`` in each team's folder and
    the actuators still running), and launches the steps that fell due meanwhile."""
    mode = "live"
    seen_detection = True  # the driver runs Detector.poll_seen
    CHECK_EVERY = 5.0  # seconds between checks that every sensor still runs

    def __init__(self, session: str, teams: dict[str, Path], store=None):
        super().__init__(session, teams, store)
        self.live: dict[str, LiveTeam] = {}
        self.pending: list[tuple[float, str, object]] = []  # (scenario time, team, step)
        self.truth_due: dict[str, float] = {}  # team -> wall time its truth should be rebuilt
        self.scn: Scenario | None = None
        self.bridges: dict[str, dict[str, str]] = {}
        self.checked = 0.0
        self.restarted: list[str] = []  # sensors that had died and were started again
        self.built: dict[str, dict] = {}  # team -> step id -> its truth, once the step is over

    def prepare(self, scn, seed_of, start, progress) -> None:
        from range.runtime import lifecycle as runtime
        from range.events.store import Store
        seed = self.store.session(self.session)["seed"] if self.store else 1
        runtime.up(scn.env, self.session, list(self.teams), seed=seed, progress=progress)
        for team, d in self.teams.items():
            Store(d / "events.db").close()
            Truth(scn.name, seed_of(team), team, [], start, start + scn.spec.duration,
                  scn.spec.scoring.model_dump()).write(d / "truth.json")

    def _launched(self, team: str) -> dict:
        p = self.teams[team] / "launched.json"
        return json.loads(p.read_text()) if p.exists() else {}

    def start(self) -> None:
        from range.runtime import lifecycle as runtime
        from range.sessions.commands import scenario_of, team_seed
        row = self.store.session(self.session)
        self.scn = scn = scenario_of(self.store, self.session)
        clock = self.store.clock(row)
        lays, self.bridges = runtime.layouts(self.session), runtime.bridges(self.session)
        wall = time.time()
        offset = wall - clock.now(wall)  # scenario time -> wall time
        for team, d in self.teams.items():
            seed = team_seed(row["seed"], team)
            lt = self.live[team] = LiveTeam(self.session, team, lays[team], d, list(scn.env.spec.sensor.networks))
            launched = self._launched(team)
            every = benign_plan(scn, lt.layout, seed, team, clock.scenario_start + offset)
            steps = [(st,) + step_plan(scn, lt.layout, st, seed, team, clock.scenario_start + offset) for st in scn.steps]
            acts = [a for v in every.values() for a in v] + [a for *_x, per, _a in steps for v in per.values() for a in v]
            serve_dns(self.session, team, lt.layout, dns_answers(acts))
            add_accounts(self.session, team, [acc for *_x, accs in steps for acc in accs])
            start_c2(self.session, team, scn.env.spec.attacker, d / "actuators")
            self.restarted += [f"{team}/{n}" for n in lt.start_sensors(self.bridges[team])]
            lt.attach_actuators()
            for node, node_acts in every.items():
                if lt.actuator("benign", node) is not None:
                    continue  # still running since before a restart
                due = [a for a in node_acts if _when(a) >= wall]
                if due:
                    lt.act("benign", node, due)
            for st, _t0, per_node, _acc in steps:
                running = [n for n in per_node if lt.actuator(st.id, n) is not None]
                if st.id in launched or running:
                    logs = launched.get(st.id) or [str(d / "actuators" / f"{st.id}-{n}.jsonl") for n in per_node]
                    lt.sent[st.id] = [Path(p) for p in logs]
                else:
                    self.pending.append((clock.scenario_start + st.spec.at, team, st))
            if launched:  # steps may have ended while no orchestrator was there to write the truth
                self.truth_due[team] = wall + SETTLE
        self.pending.sort(key=lambda p: p[0])
        self.checked = wall

    def advance(self, now: float) -> int:
        from range.sessions.commands import team_seed
        changed = 0
        row = self.store.session(self.session)
        wall = time.time()
        offset = wall - now
        while self.pending and self.pending[0][0] - LEAD <= now:
            t, team, st = self.pending.pop(0)
            lt = self.live[team]
            seed = team_seed(row["seed"], team)
            late = now - (t - LEAD)  # a step that fell due while no orchestrator ran starts now, as planned
            shift = late if late > 1.0 else 0.0
            _t0, per_node, _acc = step_plan(self.scn, lt.layout, st, seed, team, row["scenario_start"] + offset + shift)
            lt.sent[st.id] = [lt.act(st.id, node, acts).log for node, acts in per_node.items()]
            launched = self._launched(team)
            launched[st.id] = [str(p) for p in lt.sent[st.id]]
            write_json(self.teams[team] / "launched.json", launched)
            self.truth_due[team] = wall + st.duration + SETTLE
            changed += 1
        for team, due in list(self.truth_due.items()):
            if wall >= due:
                self._truth(team)
                del self.truth_due[team]
                changed += 1
        if wall - self.checked >= self.CHECK_EVERY:  # a sensor that died is started again (and said so)
            self.checked = wall
            for team, lt in self.live.items():
                for net in lt.start_sensors(self.bridges[team]):
                    self.restarted.append(f"{team}/{net}")
                    log.warning("session %s: the sensor of team %s on %s had stopped; started again",
                                self.session, team, net)
        return changed

    def _truth(self, team: str) -> None:
        from range.sessions.commands import team_seed
        row = self.store.session(self.session)
        lt = self.live[team]
        truth = build_truth(self.scn, lt, team_seed(row["seed"], team), row["scenario_start"],
                            done=self.built.setdefault(team, {}))
        truth.write(lt.dir / "truth.json")

    def stop(self) -> None:
        """Only this process lets go: sensors, actuators and servers go on (a restart attaches)."""
        self.live.clear()
        self.pending.clear()

    def finish(self) -> None:
        from range.runtime import lifecycle as runtime
        teams = list(self.live)
        for lt in self.live.values():
            lt.wait_actuators(2)
        self.stop_sensors_and_truth(teams)
        runtime.down(self.session)  # also stops any process of the session still recorded

    def stop_sensors_and_truth(self, teams: list[str]) -> None:
        for team in teams:
            self.live[team].stop()
        self.built.clear()  # the final truth reads every step again, from the pcaps the sensors closed
        for team in teams:
            self._truth(team)
            c2 = procs.find(self.session, f"c2-{team}")
            if c2 is not None:
                c2.stop(2.0)
        self.stop()


def _when(action) -> float:
    from range.traffic.actions import RawFrames
    return action.frames[0][0] if isinstance(action, RawFrames) and action.frames else getattr(action, "t", 0.0)

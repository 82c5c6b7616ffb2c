"""Sustained load: a live session of 6 teams for 30 minutes, driven through the real web app, watched
by 200 scoreboard viewers, measured every minute.

    .venv/bin/python bench/sustained.py [--teams 6] [--minutes 30] [--viewers 200] [--no-write]

Writes a scenario of ``--minutes`` on gov-office (ministry-breach's eight steps, then a second round
of them) into a temporary catalog (CYBERRANGE_HOME), starts ``cyberrange serve`` over a temporary
state directory, creates the live session through the API (one network copy per team, the range's
images must be built: ``cyberrange images build gov-office``), deploys the reference rules for every
team, starts it, and keeps ``--viewers`` server-sent-event viewers of the public board connected the
whole time (bench/scoreboard_load.py's viewer, reconnecting when the server ends a stream after
its 5 minutes, as EventSource does). Every minute it records:

* memory (RSS): the web app (gunicorn's arbiter and worker, which runs the session driver), each
  team's sensor (the range.events.capture process with its dumpcap and tshark), the actuators and the
  intruder's servers (every process recorded for the session, range.runtime.procs);
* each team's event store: size on disk and records, and the sensor's lag: a record's ``_seen``
  (when the sensor wrote it) minus its ``ts`` for dns, http and arp records (one exchange each);
  for a connection, minus its last packet (``ts + duration``);
* detection: each team's backlog (records written that the driver's detectors have not read, and
  how far their horizon is behind the sensors), from the driver's ``driver.json``;
* the scoreboard: ``GET /api/board/<session>`` once a second, latency per minute; the viewers
  connected and served.

Then it plots memory per minute (bench/sustained_memory.svg) and writes its section of
BENCHMARKS.md. Needs root and the Docker Engine, like every live run.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import sqlite3
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT.parent))
import scoreboard_load as sl  # noqa: E402 - the viewer and server helpers
from mdsection import write_section  # noqa: E402

SESSION = "sustain"
PLOT = ROOT / "sustained_memory.svg"
MB = 1024 * 1024


# ---- the scenario and its catalog --------------------------------------------------------------

def scenario(minutes: float) -> dict:
    """ministry-breach's steps, then the same again (ids with a 2, shifted by 14 minutes), cut to fit."""
    base = yaml.safe_load(
        (ROOT.parent / "environments" / "gov-office" / "scenarios" / "ministry-breach.yaml").read_text()
    )
    duration = minutes * 60
    steps = [s for s in base["steps"] if s["at"] + 200 <= duration]
    for s in base["steps"]:
        again = dict(json.loads(json.dumps(s)), id=f"{s['id']}2", at=s["at"] + 840, parallel=True)  # no shared
        # objects: PyYAML would write them as anchors, which cyberrange's loader refuses
        if again["at"] + 200 <= duration:
            steps.append(again)
    return {
        **base,
        "name": "sustained",
        "duration": f"{duration:g}s",
        "steps": steps,
        "environment": str(ROOT.parent / "environments" / "gov-office" / "environment.yaml"),
        "description": f"ministry-breach's story twice over {minutes:g} minutes, for bench/sustained.py",
    }


def make_home(tmp: Path, minutes: float) -> Path:
    home = tmp / "home"
    (home / "environments" / "sustained").mkdir(parents=True)
    (home / "environments" / "sustained" / "sustained.yaml").write_text(
        yaml.safe_dump(scenario(minutes), sort_keys=False)
    )
    (home / "environments" / "images").symlink_to(ROOT.parent / "environments" / "images")
    (home / "detections").symlink_to(ROOT.parent / "detections")
    return home


# ---- viewers that reconnect ----------------------------------------------------------------------


async def _one_viewer(host: str, port: int, path: str, me: dict, stop: asyncio.Event) -> None:
    while not stop.is_set():
        rec = {"updates": []}
        me["rec"] = rec
        await sl._viewer(host, port, path, rec, stop)
        me["streams"] += 1
        me["updates"] += len(rec["updates"])
        if rec.get("updates"):
            me["served"] += 1
        if rec.get("error"):
            me["errors"] += 1
            me["last_error"] = rec["error"]
        if rec.get("status") == 503:
            me["refused"] += 1
        if not stop.is_set():  # EventSource's retry; a refused page polls, then tries again later
            try:
                await asyncio.wait_for(stop.wait(), 30 if rec.get("status") == 503 else 1)
            except asyncio.TimeoutError:
                pass


async def _viewers(url: str, n: int, seconds: float, out: Path) -> None:
    from urllib.parse import urlsplit

    u = urlsplit(url)
    stop = asyncio.Event()
    mine = [{"streams": 0, "updates": 0, "served": 0, "errors": 0, "refused": 0} for _ in range(n)]
    tasks = [asyncio.ensure_future(_one_viewer(u.hostname, u.port, u.path, m, stop)) for m in mine]
    end = time.time() + seconds
    while time.time() < end:
        await asyncio.sleep(min(10, max(0.1, end - time.time())))
        now_open = sum(
            1
            for m in mine
            if m.get("rec") and m["rec"].get("status") == 200 and "eof" not in m["rec"] and "error" not in m["rec"]
        )
        served_now = sum(1 for m in mine if m.get("rec") and m["rec"].get("updates"))
        summary = {
            "at": time.time(),
            "open": now_open,
            "served_now": served_now,
            **{k: sum(m[k] for m in mine) for k in ("streams", "updates", "served", "errors", "refused")},
            "last_errors": sorted({m["last_error"] for m in mine if "last_error" in m})[:3],
        }
        tmp = out.with_suffix(".tmp")
        tmp.write_text(json.dumps(summary))
        os.replace(tmp, out)
    stop.set()
    await asyncio.gather(*tasks, return_exceptions=True)


# ---- measuring -----------------------------------------------------------------------------------


def rss(pid: int) -> int:
    from range.runtime.procs import descendants, rss_of

    return sum(rss_of(p) for p in [pid, *descendants(pid)])


def cpu_seconds(pids: list[int]) -> float:
    tick, total = os.sysconf("SC_CLK_TCK"), 0.0
    for pid in pids:
        try:
            f = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(f[11]) + int(f[12])) / tick
        except OSError:
            pass
    return total


class Prober(threading.Thread):
    """GET /api/board/<session> once a second: latencies (and failures) since the last take()."""

    def __init__(self, base: str):
        super().__init__(daemon=True)
        self.url, self.lat, self.failed, self.halt = f"{base}/api/board/{SESSION}", [], 0, threading.Event()
        self.lock = threading.Lock()

    def run(self):
        while not self.halt.wait(1.0):
            t = time.perf_counter()
            try:
                urllib.request.urlopen(self.url, timeout=30).read()
                with self.lock:
                    self.lat.append(time.perf_counter() - t)
            except OSError:
                with self.lock:
                    self.failed += 1

    def take(self) -> tuple[list[float], int]:
        with self.lock:
            out, self.lat, failed, self.failed = self.lat, [], self.failed, 0
        return out, failed


def team_figures(state: Path, team: str, since: float) -> dict:
    d = state / "sessions" / SESSION / "teams" / team
    db = d / "events.db"
    size = sum(p.stat().st_size for p in d.glob("events.db*") if p.exists())
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        rows = sum(
            con.execute(f"SELECT coalesce(max(rowid), 0) FROM {t}").fetchone()[0]
            for t in ("conn", "dns", "http", "ssh", "ftp", "telnet", "arp")
        )
        # records of one message or exchange; ssh, ftp and telnet records describe a whole session
        # and are written when it ends, like conn (their ts is the session's start)
        lag = [
            r[0]
            for t in ("dns", "http", "arp")
            for r in con.execute(f"SELECT _seen - ts FROM {t} WHERE _seen > ?", (since,))
        ]
        lag_conn = [
            r[0] for r in con.execute("SELECT _seen - ts - coalesce(duration, 0) FROM conn WHERE _seen > ?", (since,))
        ]
    finally:
        con.close()
    pcap = sum(p.stat().st_size for p in (d / "pcap").rglob("*.pcap"))
    return {"bytes": size, "records": rows, "pcap_bytes": pcap, "lag": lag, "lag_conn": lag_conn}


def sample(srv, state: Path, teams: list[str], prober: Prober, viewers_file: Path, last: dict) -> dict:
    from range.runtime.procs import recorded

    now = time.time()
    serve_pids = srv.pids()
    from range.runtime.procs import rss_of

    serve = sum(rss_of(p) for p in serve_pids)  # the arbiter and its worker, each once (their children below)
    procs = recorded(SESSION)
    sensors = {p.name.split("-")[1]: rss(p.pid) for p in procs if p.name.startswith("sensor-")}
    others = [p for p in procs if not p.name.startswith("sensor-")]
    progress = {}
    try:
        progress = json.loads((state / "sessions" / SESSION / "driver.json").read_text())
    except (OSError, ValueError):
        pass
    per_team = {}
    for t in teams:
        f = team_figures(state, t, last.get("at", now - 60))
        p = progress.get("teams", {}).get(t, {})
        f["backlog_rows"] = p.get("backlog_rows")
        f["horizon_behind"] = (progress["updated"] - p["horizon"]) if p.get("horizon") else None
        f["sensor_rss"] = sensors.get(t, 0)
        per_team[t] = f
    lat, failed = prober.take()
    cpu = cpu_seconds(serve_pids)
    try:
        viewers = json.loads(viewers_file.read_text())
    except (OSError, ValueError):
        viewers = {}
    s = {
        "at": now,
        "serve_rss": serve,
        "serve_cpu": (cpu - last["cpu"]) / (now - last["at"]) * 100 if "cpu" in last else None,
        "sensors_rss": sum(sensors.values()),
        "actuators_rss": sum(rss(p.pid) for p in others),
        "actuators": len(others),
        "teams": per_team,
        "api_lat": lat,
        "api_failed": failed,
        "viewers": viewers,
        "load1": os.getloadavg()[0],
        "driver_age": now - progress["updated"] if progress else None,
    }
    last.update(at=now, cpu=cpu)
    return s


# ---- the run --------------------------------------------------------------------------------------


def run(a) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="cr-sustained-"))
    os.environ["CYBERRANGE_HOME"] = str(make_home(tmp, a.minutes))
    state = tmp / "state"
    from range.core import paths

    paths.STATE = state  # the session's process records (range.runtime.procs) live under the server's state
    load_start = os.getloadavg()
    srv = sl.Server(None, state)
    teams = [f"team{i + 1}" for i in range(a.teams)]
    out: dict = {"teams": a.teams, "minutes": a.minutes, "viewers": a.viewers, "load_start": load_start, "samples": []}
    viewers_proc = None
    try:
        t0 = time.monotonic()
        srv.call(
            "POST",
            "/api/sessions",
            {"name": SESSION, "scenario": "sustained", "teams": teams, "mode": "live", "seed": 3},
        )
        while (st := srv.call("GET", f"/api/sessions/{SESSION}")["status"]) == "preparing":
            time.sleep(1)
        if st != "ready":
            raise SystemExit(f"the session is {st}: {srv.call('GET', f'/api/sessions/{SESSION}').get('error')}")
        out["up_seconds"] = time.monotonic() - t0
        rules = sorted((ROOT.parent / "detections" / "rules").glob("*.yml"))
        for t in teams:
            for r in rules:
                srv.call("POST", f"/api/sessions/{SESSION}/teams/{t}/rules", {"yaml": r.read_text()})
        out["rules_per_team"] = len(rules)
        print(f"{a.teams} teams up in {out['up_seconds']:.1f} s, {len(rules)} rules each; starting", flush=True)
        viewers_file = tmp / "viewers.json"
        seconds = a.minutes * 60 + 60
        viewers_proc = sl.subprocess.Popen(
            [
                sys.executable,
                __file__,
                "viewers",
                f"{srv.base}/api/board/{SESSION}/stream",
                str(a.viewers),
                str(seconds),
                str(viewers_file),
            ]
        )
        time.sleep(5)
        srv.call("POST", f"/api/sessions/{SESSION}/start")
        started = time.time()
        prober = Prober(srv.base)
        prober.start()
        last: dict = {}
        sample(srv, state, teams, prober, viewers_file, last)
        minute = 0
        while True:
            time.sleep(max(0.0, started + 60 * (minute + 1) - time.time()))
            minute += 1
            s = sample(srv, state, teams, prober, viewers_file, last)
            s["minute"] = minute
            out["samples"].append(s)
            print(line(s), flush=True)
            status = srv.call("GET", f"/api/sessions/{SESSION}")["status"]
            if status not in ("running", "paused"):
                break
        deadline = time.monotonic() + 300
        progress = state / "sessions" / SESSION / "driver.json"
        while not json.loads(progress.read_text()).get("final") and time.monotonic() < deadline:
            time.sleep(2)
        prober.halt.set()
        res = srv.call("GET", f"/api/sessions/{SESSION}/results")
        out["results"] = {
            t: {k: s[k] for k in ("score", "recall", "precision", "alerts", "false_positives", "mttd_seconds")}
            for t, s in res["scores"].items()
        }
        out["sensor"] = {
            t: json.loads((state / "sessions" / SESSION / "teams" / t / "sensor-office.json").read_text())
            for t in teams
        }
        print(json.dumps(out["results"], indent=1), flush=True)
    finally:
        if viewers_proc is not None:
            viewers_proc.terminate()
            viewers_proc.wait()
        srv.stop()
        from range.runtime import down

        down(SESSION)
        out["load_end"] = os.getloadavg()
    return out


def line(s: dict) -> str:
    lags = [x for f in s["teams"].values() for x in f["lag"]]
    backlog = [f["backlog_rows"] or 0 for f in s["teams"].values()]
    return (
        f"min {s['minute']:2d}: serve {s['serve_rss'] / MB:.0f} MB (cpu {s['serve_cpu'] or 0:.0f}%), sensors "
        f"{s['sensors_rss'] / MB:.0f} MB, actuators {s['actuators_rss'] / MB:.0f} MB ({s['actuators']}), records "
        f"{sum(f['records'] for f in s['teams'].values())}, lag p50 {sl.ms(sl.pct(lags, 50))} max "
        f"{sl.ms(max(lags) if lags else None)}, backlog max {max(backlog)}, API p50 {sl.ms(sl.pct(s['api_lat'], 50))}"
        f" max {sl.ms(max(s['api_lat']) if s['api_lat'] else None)}, viewers open {s['viewers'].get('open')}, "
        f"load {s['load1']:.1f}"
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--teams", type=int, default=6)
    ap.add_argument("--minutes", type=float, default=30)
    ap.add_argument("--viewers", type=int, default=200)
    ap.add_argument("--no-write", action="store_true", help="print only; leave BENCHMARKS.md and the plot alone")
    ap.add_argument("--json", type=Path, help="also save every sample here")
    a = ap.parse_args()
    out = run(a)
    if a.json:
        a.json.write_text(json.dumps(out, default=str))
    from sustained_report import plot, report

    text = report(out, " ".join(["bench/sustained.py", *sys.argv[1:]]))
    print(text)
    if not a.no_write:
        PLOT.write_text(plot(out))
        write_section(
            ROOT.parent / "BENCHMARKS.md",
            "sustained",
            "Sustained load: 6 live teams for 30 minutes (bench/sustained.py)",
            text,
        )
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "viewers":
        asyncio.run(_viewers(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), Path(sys.argv[5])))
    else:
        sys.exit(main())

"""Crash recovery, on the real Docker Engine and the real web app.

The same short live scenario is played twice with the same seed and rules, each through its own
``cyberrange serve`` (the web app that runs the session driver): once undisturbed, and once with
the serving processes killed with SIGKILL in the middle of the session and a new server started
on the same state directory half a minute later. The range, its sensors, actuators and servers
are found again by their labels and records (range.inventory, range.procs): capture went on
while no orchestrator ran, detection resumes over what was captured meanwhile, no alert is lost
or counted twice (the saved alerts equal those of one uninterrupted detection pass over the final
event store: same ids, same raise times, same evidence), and the final scores equal those of the
undisturbed run.

Also here: the state store's durability (WAL, synchronous=FULL: every commit syncs the WAL
before it returns, seen with strace) and a real failing write (a state store on a tiny tmpfs
that fills up) that is reported, never dropped.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml

from range.detect import Detector
from tests.conftest import require

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "detections" / "rules"
PASSWORD = "recovery-test-password"
TEAM = "blue"
SEED = 11
KILL_AT, RESTART_AT = 45.0, 75.0  # session seconds: the orchestrator is down in between

SCENARIO = {
    "kind": "scenario",
    "name": "recovery",
    "description": "steps before, across, during and after an outage",
    "environment": str(ROOT / "environments" / "gov-office" / "environment.yaml"),
    "duration": "150s",
    "jitter": 0,
    "benign": {"dns": {"rate": 1}, "web": {"rate": 0.3}, "icmp": {"rate": 0.05}},
    "steps": [
        {
            "id": "portscan",
            "technique": "syn_scan",
            "source": "attacker",
            "targets": ["web", "files"],
            "at": 15,
            "params": {"rate": 200},
            "briefing": "A SYN scan before the outage.",
        },
        {
            "id": "beacon",
            "technique": "http_c2_beacon",
            "source": "ws2",
            "targets": ["attacker"],
            "at": 25,
            "params": {"period": 5, "jitter": 0.2, "beacons": 12},
            "briefing": "An implant that checks in across it.",
        },
        {
            "id": "bruteforce",
            "parallel": True,
            "technique": "ssh_bruteforce",
            "source": "attacker",
            "targets": ["files"],
            "at": 60,
            "params": {"attempts": 20, "tasks": 2},
            "briefing": "Due while no orchestrator runs.",
        },
        {
            "id": "exfil",
            "parallel": True,
            "technique": "dns_tunnel_exfil",
            "source": "ws1",
            "targets": ["dns"],
            "at": 100,
            "params": {"size": 3000, "rate": 10},
            "briefing": "After the restart.",
        },
        {
            "id": "tunnel",
            "parallel": True,
            "technique": "icmp_tunnel",
            "source": "ws3",
            "targets": ["attacker"],
            "at": 112,
            "params": {"duration": 12},
            "briefing": "Raised when its conversation goes idle.",
        },
    ],
}


# ---- a server -------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_home(tmp: Path) -> Path:
    """A CYBERRANGE_HOME whose catalog holds the test scenario (environments and images are the real ones)."""
    home = tmp / "home"
    (home / "environments" / "recovery").mkdir(parents=True, exist_ok=True)
    (home / "environments" / "recovery" / "recovery.yaml").write_text(yaml.safe_dump(SCENARIO, sort_keys=False))
    for link, target in (
        (home / "environments" / "images", ROOT / "environments" / "images"),
        (home / "detections", ROOT / "detections"),
    ):
        if not link.exists():
            link.symlink_to(target)
    return home


class Serve:
    """``cyberrange serve`` in a process group of its own, over ``state``."""

    def __init__(self, state: Path, home: Path, log: Path):
        self.state, self.home, self.log = state, home, log
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = dict(
            os.environ, CYBERRANGE_STATE=str(state), CYBERRANGE_HOME=str(home), CYBERRANGE_INSTRUCTOR_PASSWORD=PASSWORD
        )
        self.proc = subprocess.Popen(
            [str(ROOT / ".venv" / "bin" / "cyberrange"), "serve", "--port", str(self.port), "--threads", "32"],
            cwd=ROOT,
            env=env,
            stdout=open(log, "a"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 90
        while True:
            assert self.proc.poll() is None, f"cyberrange serve exited: {log.read_text()[-3000:]}"
            try:
                urllib.request.urlopen(self.base + "/api/board", timeout=2).read()
                break
            except OSError:
                assert time.monotonic() < deadline, f"cyberrange serve did not answer: {log.read_text()[-3000:]}"
                time.sleep(0.2)
        self.token = None
        self.token = self.call("POST", "/api/login", {"role": "instructor", "password": PASSWORD})["token"]

    def call(self, method: str, path: str, body: dict | None = None):
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        req = urllib.request.Request(
            self.base + path, method=method, headers=headers, data=None if body is None else json.dumps(body).encode()
        )
        try:
            with urllib.request.urlopen(req, timeout=120) as r:
                return json.loads(r.read())
        except urllib.error.HTTPError as e:
            raise AssertionError(f"{method} {path}: {e.code} {e.read()[:500]!r}") from None

    def pids(self) -> set[int]:
        """The server's processes: its group (gunicorn's arbiter and worker)."""
        out = set()
        for p in Path("/proc").iterdir():
            if p.name.isdigit():
                try:
                    if os.getpgid(int(p.name)) == self.proc.pid:
                        out.add(int(p.name))
                except OSError:
                    pass
        return out

    def kill(self) -> None:
        """SIGKILL to the whole process group: whatever was not detached dies with it."""
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(timeout=30)


# ---- one run --------------------------------------------------------------------------------------


def _elapsed(srv: Serve, name: str) -> float:
    return srv.call("GET", f"/api/sessions/{name}")["elapsed"]


def _wait_elapsed(srv: Serve, name: str, t: float) -> None:
    while _elapsed(srv, name) < t:
        time.sleep(0.5)


def _registry(state: Path, name: str) -> dict[str, int]:
    reg = state / "procs" / name
    return {p.stem: json.loads(p.read_text())["pid"] for p in reg.glob("*.json")} if reg.is_dir() else {}


def _sensors_running(events_db: Path) -> list[int]:
    """Processes running a sensor that writes ``events_db`` (from their command lines)."""
    out = []
    for p in Path("/proc").iterdir():
        try:
            cmd = (p / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"range.events.capture" in cmd and str(events_db).encode() in cmd:
            out.append(int(p.name))
    return out


def play(
    tmp: Path, name: str, crash: bool, ready: threading.Event | None = None, wait_for: threading.Event | None = None
) -> dict:
    """Play the scenario for one team through the web app; with ``crash``, kill the server mid-session."""
    home, state = make_home(tmp), tmp / "state"
    log = tmp / "serve.log"
    facts: dict = {"name": name, "state": state}
    srv = Serve(state, home, log)
    try:
        if wait_for is not None:
            wait_for.wait(600)  # one `up` at a time: each run's state has its own host lock
        srv.call(
            "POST",
            "/api/sessions",
            {"name": name, "scenario": "recovery", "teams": [TEAM], "mode": "live", "seed": SEED},
        )
        deadline = time.monotonic() + 300
        while (st := srv.call("GET", f"/api/sessions/{name}")["status"]) == "preparing":
            assert time.monotonic() < deadline, "the live session did not get ready"
            time.sleep(0.5)
        if ready is not None:
            ready.set()
        assert st == "ready", srv.call("GET", f"/api/sessions/{name}")
        for rule in sorted(RULES.glob("*.yml")):
            srv.call("POST", f"/api/sessions/{name}/teams/{TEAM}/rules", {"yaml": rule.read_text()})
        srv.call("POST", f"/api/sessions/{name}/start")
        events = state / "sessions" / name / "teams" / TEAM / "events.db"
        if crash:
            _wait_elapsed(srv, name, KILL_AT)
            facts["before"] = _registry(state, name)
            facts["server_pids"] = srv.pids()
            facts["killed_at"] = time.time()
            srv.kill()
            facts["alive_after_kill"] = {k: Path(f"/proc/{pid}").exists() for k, pid in facts["before"].items()}
            facts["sensors_down"] = _sensors_running(events)
            row = (
                sqlite3.connect(state / "cyberrange.db")
                .execute("SELECT started_wall FROM sessions WHERE name = ?", (name,))
                .fetchone()
            )
            time.sleep(max(0.0, row[0] + RESTART_AT - time.time()))
            facts["restarted_at"] = time.time()
            srv = Serve(state, home, log)
            facts["new_server_pids"] = srv.pids()
            _wait_elapsed(srv, name, RESTART_AT + 15)
            facts["after"] = _registry(state, name)
            facts["sensors_up"] = _sensors_running(events)
        # the scenario's retro-hunt: a copy of the scan rule, deployed late
        late = (
            (RULES / "net_conn_port_scan.yml")
            .read_text()
            .replace("6b1b0f3c-9a7e-4e0b-8d3e-2f6f1e4c9b02", "6b1b0f3c-9a7e-4e0b-8d3e-2f6f1e4c9b99")
            .replace("title: Port scan", "title: Late port scan")
        )
        _wait_elapsed(srv, name, RESTART_AT + 20)
        facts["late_rule"] = srv.call("POST", f"/api/sessions/{name}/teams/{TEAM}/rules", {"yaml": late})
        deadline = time.monotonic() + 400
        progress = state / "sessions" / name / "driver.json"
        while not (progress.exists() and json.loads(progress.read_text()).get("final")):
            assert time.monotonic() < deadline, "the session did not finish"
            time.sleep(1)
        facts["results"] = srv.call("GET", f"/api/sessions/{name}/results")
        facts["alerts"] = srv.call("GET", f"/api/sessions/{name}/teams/{TEAM}/alerts")["alerts"]
        facts["rules"] = srv.call("GET", f"/api/sessions/{name}/teams/{TEAM}/rules")["rules"]
        facts["events"] = events
        facts["left"] = _registry(state, name)
        return facts
    finally:
        srv.kill()
        from range.runtime import down

        down(name)


def reference_alerts(state: Path, name: str) -> dict[str, tuple]:
    """Alerts of one uninterrupted detection pass of every deployed rule over the final store."""
    from range.detect import load_rules

    db = sqlite3.connect(state / "cyberrange.db")
    db.row_factory = sqlite3.Row
    out = {}
    for r in db.execute("SELECT * FROM rules WHERE session = ? AND team = ?", (name, TEAM)):
        path = state / "sessions" / name / "teams" / TEAM / "rules" / f"{r['pk']}.yml"
        with Detector(load_rules([path]), state / "sessions" / name / "teams" / TEAM / "events.db") as det:
            for a in det.poll_seen(r["deployed_wall"]):
                out[a["id"]] = (a["rule_id"], a["raised_at"], a["last_event_at"], len(a["events"]))
    return out


@pytest.fixture(scope="module")
def runs(tmp_path_factory, office_images):
    require("dumpcap")
    box: dict = {}
    ready = threading.Event()
    # made here, not in the threads: pytest creates its base temporary folder on first use, racily
    tmp = {key: tmp_path_factory.mktemp(key) for key in ("steady", "crash")}

    def go(key, crash, **kw):
        try:
            box[key] = play(tmp[key], f"rc{key[0]}{os.getpid() % 10000}", crash, **kw)
        except BaseException as e:  # noqa: BLE001 - raised in the test's thread below
            box[key] = e
            ready.set()

    threads = [
        threading.Thread(target=go, args=("steady", False), kwargs={"ready": ready}),
        threading.Thread(target=go, args=("crash", True), kwargs={"wait_for": ready}),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for v in box.values():
        if isinstance(v, BaseException):
            raise v
    return box["steady"], box["crash"]


def test_the_range_outlives_the_orchestrator_and_is_reattached(runs):
    _steady, crash = runs
    before, after = crash["before"], crash["after"]
    assert f"sensor-{TEAM}-office" in before and f"c2-{TEAM}" in before
    # nothing of the range died with the server's process group...
    assert all(crash["alive_after_kill"].values()), crash["alive_after_kill"]
    assert crash["sensors_down"] == [before[f"sensor-{TEAM}-office"]]
    # ...and the restarted server attached to the same sensor and servers instead of starting new ones
    assert crash["new_server_pids"].isdisjoint(crash["server_pids"])
    assert after[f"sensor-{TEAM}-office"] == before[f"sensor-{TEAM}-office"]
    assert after[f"c2-{TEAM}"] == before[f"c2-{TEAM}"]
    assert crash["sensors_up"] == [before[f"sensor-{TEAM}-office"]]
    kept = [k for k in before.keys() & after.keys() if k.startswith(f"act-{TEAM}-")]
    assert kept, "no actuator ran across the outage"  # the clients' benign traffic and the beacon went on...
    assert all(after[k] == before[k] for k in kept)  # ...in the same processes: nothing was started twice
    # at the end, down stopped every recorded process
    assert crash["left"] == {} or all(not Path(f"/proc/{p}").exists() for p in crash["left"].values())


def test_capture_went_on_while_no_orchestrator_ran(runs):
    _steady, crash = runs
    db = sqlite3.connect(crash["events"])
    lo, hi = crash["killed_at"], crash["restarted_at"]
    written = sum(
        db.execute(f"SELECT count(*) FROM {t} WHERE _seen > ? AND _seen < ?", (lo, hi)).fetchone()[0]
        for t in ("conn", "dns", "http")
    )
    assert written > 0, "the sensor wrote nothing while the orchestrator was down"
    beacon = db.execute(
        "SELECT count(*) FROM http WHERE ts > ? AND ts < ? AND resp_mime_types LIKE '%octet-stream%'", (lo, hi)
    ).fetchone()[0]
    assert beacon > 0, "the beacon's check-ins during the outage were not captured"


def test_no_alert_is_lost_or_counted_twice(runs):
    for run in runs:
        saved = {a["id"]: (a["rule_id"], a["raised_at"], a["last_event_at"], len(a["events"])) for a in run["alerts"]}
        want = reference_alerts(run["state"], run["name"])
        assert saved == want, {
            "missing": sorted(set(want) - set(saved)),
            "extra": sorted(set(saved) - set(want)),
            "differ": {k: (saved[k], want[k]) for k in saved.keys() & want.keys() if saved[k] != want[k]},
        }
    # some alerts were raised from what the sensor wrote while the orchestrator was down: their
    # raise time is when the record was written, not when the restarted driver read it
    from range.core import parse_iso

    _steady, crash = runs
    during = [a for a in crash["alerts"] if crash["killed_at"] < parse_iso(a["raised_at"]) < crash["restarted_at"]]
    assert during, "no alert rests on records written during the outage"


def test_a_late_rule_raises_when_it_arrives(runs):
    from range.core import parse_iso

    for run in runs:
        pk = run["late_rule"]["pk"]
        wall = next(r["deployed_wall"] for r in run["rules"] if r["pk"] == pk)
        mine = [a for a in run["alerts"] if a["rule_id"] == run["late_rule"]["rule_id"]]
        assert mine and min(parse_iso(a["raised_at"]) for a in mine) >= wall - 1e-3


def test_final_scores_equal_the_undisturbed_run(runs):
    steady, crash = runs
    a, b = steady["results"]["scores"][TEAM], crash["results"]["scores"][TEAM]
    assert [(s["id"], s["detected"]) for s in a["steps"]] == [(s["id"], s["detected"]) for s in b["steps"]]
    assert a["recall"] == b["recall"] == 1.0
    assert (a["false_positives"], a["score"]) == (b["false_positives"], b["score"])
    assert {x["rule_id"] for x in steady["alerts"]} == {x["rule_id"] for x in crash["alerts"]}


# ---- the state store: power loss, crashes, failing writes ---------------------------------------------

CHILD = """
import sys
from range.sessions import StateStore
s = StateStore(sys.argv[1])
for i in range(int(sys.argv[2])):
    with s.tx() as db:
        db.execute("INSERT INTO audit VALUES (?, NULL, 'test', 'write', '')", (i,))
    sys.stdout.write(f"ack {i}\\n")
    sys.stdout.flush()
"""


def test_every_connection_runs_wal_with_full_sync(tmp_path):
    from range.sessions import StateStore

    store = StateStore(tmp_path / "state.db")
    seen = []

    def check():
        db = store.db()
        seen.append((db.execute("PRAGMA journal_mode").fetchone()[0], db.execute("PRAGMA synchronous").fetchone()[0]))

    threads = [threading.Thread(target=check) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    check()
    assert seen == [("wal", 2)] * 5  # 2 = FULL: the WAL is synced at every commit


def test_a_commit_is_on_disk_before_it_is_acknowledged(tmp_path):
    """Power loss keeps what was acknowledged only if the commit reached the disk first: strace
    shows an fdatasync (or fsync) of the WAL between each commit and its acknowledgement."""
    strace = require("strace")
    db, log = tmp_path / "state.db", tmp_path / "strace.log"
    from range.sessions import StateStore

    StateStore(db)  # schema and WAL mode, outside the trace
    r = subprocess.run(
        [
            strace,
            "-f",
            "-y",
            "-qq",
            "-e",
            "trace=fsync,fdatasync,write",
            "-o",
            str(log),
            sys.executable,
            "-c",
            CHILD,
            str(db),
            "5",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.split("\n")[:5] == [f"ack {i}" for i in range(5)]
    synced, acks = 0, []
    for line in log.read_text().splitlines():
        if ("fdatasync(" in line or "fsync(" in line) and "state.db-wal>" in line:
            synced += 1
        elif "write(1" in line and '"ack ' in line:
            acks.append(synced)
            synced = 0
    assert len(acks) == 5 and all(n >= 1 for n in acks), acks


def test_a_crash_loses_nothing_acknowledged(tmp_path):
    db = tmp_path / "state.db"
    p = subprocess.Popen([sys.executable, "-c", CHILD, str(db), "100000"], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    acked = -1
    for line in p.stdout:
        acked = int(line.split()[1])
        if acked >= 200:
            break
    p.kill()  # SIGKILL between two commits or in the middle of one
    p.wait()
    rows = {r[0] for r in sqlite3.connect(db).execute("SELECT ts FROM audit WHERE actor = 'test'")}
    assert set(range(acked + 1)) <= rows


@pytest.fixture()
def tiny_fs(tmp_path):
    """A real file system of 1 MiB (tmpfs), unmounted afterwards."""
    mnt = tmp_path / "tiny"
    mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mnt)], capture_output=True, text=True)
    assert r.returncode == 0, f"cannot mount a tmpfs (the test needs root): {r.stderr}"
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], check=False)


def _fill(mnt: Path) -> Path:
    filler = mnt / "filler"
    with open(filler, "wb", buffering=0) as f:
        try:
            while True:
                f.write(b"\0" * 4096)
        except OSError:
            pass
    return filler


def test_a_write_the_disk_refuses_is_reported_and_never_dropped(tmp_path, tiny_fs, monkeypatch):
    """The state store on a 1 MiB tmpfs that fills up: an instructor's or team's action fails
    with an error (503 from the web app) and leaves nothing half-saved; the driver reports that
    it cannot save alerts, keeps them, and saves every one of them once space is free again."""
    from range import sessions
    from range.core import StoreError
    from range.detect import load_rules
    from range.sessions import Driver, StateStore
    from scoreboard import create_app

    monkeypatch.setattr("range.core.paths.STATE", tmp_path / "state")  # team folders on the big disk
    monkeypatch.setenv("CYBERRANGE_INSTRUCTOR_PASSWORD", PASSWORD)
    store = StateStore(tiny_fs / "cyberrange.db")
    sessions.create_session(store, "full", "smoke", ["blue"], speed=1)
    sessions.deploy_rule(store, "full", "blue", (RULES / "net_conn_port_scan.yml").read_text())
    app = create_app({"STORE": store, "DRIVER": False, "BACKGROUND_PREPARE": False})
    client = app.test_client()
    token = client.post("/api/login", json={"role": "instructor", "password": PASSWORD}).get_json()["token"]
    sessions.start(store, "full")
    rules_before = store.q("SELECT count(*) FROM rules")[0][0]
    filler = _fill(tiny_fs)

    big = (RULES / "dns_long_query.yml").read_text().replace("description: >", "description: >\n    " + "x" * 40_000, 1)
    with pytest.raises(StoreError, match="could not save"):
        sessions.deploy_rule(store, "full", "blue", big)
    r = client.post(
        "/api/sessions/full/teams/blue/rules", json={"yaml": big}, headers={"Authorization": f"Bearer {token}"}
    )
    assert r.status_code == 503 and "could not save" in r.get_json()["error"]
    assert store.q("SELECT count(*) FROM rules")[0][0] == rules_before  # nothing half-saved

    d = Driver(store)
    start = store.session("full")["started_wall"]
    d.tick(wall=start + 60)  # the scan is delivered and detected; its alert cannot be saved
    assert "could not save" in d.problems.get("full", ""), d.problems
    assert store.alerts("full", "blue") == []
    filler.unlink()  # space again: the next tick saves what the failed one could not
    d.tick(wall=start + 61)
    assert "full" not in d.problems
    saved = {a["id"] for a in store.alerts("full", "blue")}
    rs = load_rules([store.team_dir("full", "blue").path / "rules" / "1.yml"])
    with Detector(rs, store.team_dir("full", "blue").events) as det:
        want = {a["id"] for a in det.poll(start + 61)}
    assert saved == want and saved

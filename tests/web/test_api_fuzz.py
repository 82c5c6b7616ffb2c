"""The JSON API fuzzed by schemathesis against its own OpenAPI document (/api/openapi.json), in
process through the WSGI app: a real state store in a temporary directory, a real offline session
of 'smoke' whose clock has run (events, a deployed rule, an alert, a report, an indicator), and
requests as the instructor, as a team, and anonymous. Every operation gets positive and negative
examples (hypothesis, derandomised: the same examples every run); the stateless checks: no 5xx,
every status documented, every content type documented, every JSON body conforming to its schema.

Path parameters are drawn a quarter from the schema and the rest from the real session, teams, rows and
frames, so that the examples reach the code behind the 404s; operations that would end or delete
the fixture's session (delete, stop, start, pause, resume, reset) only ever see generated names.
"""
from __future__ import annotations

import base64
import time

import hypothesis.strategies as st
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from range import sessions
from scoreboard.openapi import document
from tests.conftest import app_over_fresh_state
from tests.web.common import SCAN_RULE

CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance, content_type_conformance]
OPS = [(p, m) for p, ops in document()["paths"].items() for m in ops if m != "parameters"]
EXAMPLES = 60
SLOW = {"/api/sessions/{name}/report.pdf": 6, "/api/sessions/{name}/report": 8, "/api/sessions": 10,
        "/api/login": 15}
STREAMS = {p for p, _ in OPS if p.endswith("/stream")}
REAL = st.sampled_from([True, True, True, False])  # hypothesis favours the first choice
ROLES = ["instructor", "team", "team", "anonymous"]  # mostly someone who may ask
KEEP_OUT = {"delete", "/start", "/stop", "/pause", "/resume", "/reset"}  # never on the fixture's session


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    # the fuzzer's wrong logins all come from one address: throttling them (429, documented) would
    # leave the later examples of /api/login nothing else to reach
    app, store, password, mp = app_over_fresh_state(tmp_path_factory, SSE_MAX_SECONDS=0.2, SSE_WAIT=0.05,
                                                    SSE_MIN_INTERVAL=0, LOGIN_MAX_FAILURES=10_000,
                                                    LOGIN_MAX_FAILURES_PER_ADDRESS=10_000)
    teams = sessions.create_session(store, "fuzz", "smoke", ["blue", "red"], speed=20)["teams"]
    sessions.deploy_rule(store, "fuzz", "blue", SCAN_RULE)
    now = time.time()
    with store.tx() as db:   # 60 scenario seconds in: the scan has happened, then pause there
        db.execute("UPDATE sessions SET status = 'running', started_wall = ? WHERE name = 'fuzz'", (now - 3,))
    app.extensions["cyberrange"].driver.tick(wall=now)
    with store.tx() as db:
        db.execute("UPDATE sessions SET status = 'paused', paused_wall = ? WHERE name = 'fuzz'", (now,))
    c = app.test_client()

    def bearer(payload):
        r = c.post("/api/login", json=payload)
        assert r.status_code == 200, r.json
        return {"Authorization": f"Bearer {r.json['token']}"}
    inst = bearer({"role": "instructor", "password": password})
    blue = bearer({"role": "team", "session": "fuzz", "team": "blue", "password": teams["blue"]})
    r = c.post("/api/sessions/fuzz/teams/blue/reports", headers=blue, json={
        "title": "scan", "classification": {"class": "information-gathering", "type": "scanner"}})
    assert r.status_code == 201, r.json
    r = c.post("/api/sessions/fuzz/teams/blue/indicators", headers=blue, json={"type": "ipv4", "value": "10.0.0.9"})
    assert r.status_code == 201, r.json
    r = c.post("/api/sessions/fuzz/teams/blue/searches", headers=blue, json={"name": "ssh", "table": "conn",
                                                                              "query": "id.resp_p:22", "from": "-5m"})
    assert r.status_code == 201, r.json
    page = c.get("/api/sessions/fuzz/teams/blue/events?table=conn&limit=1", headers=blue).json
    assert page["events"] and store.alerts("fuzz", "blue")
    real = {"name": ["fuzz"], "team": ["blue", "red"], "pk": [1], "rowid": [page["events"][0]["_rowid"]],
            "frame": [1, 2], "table": ["conn", "dns"], "step": ["recon"], "id": [r.json["id"]]}
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app)
    yield {"app": app, "schema": schema, "store": store, "headers": {"instructor": inst, "team": blue, "anonymous": {}},
           "real": real}
    mp.undo()


@pytest.mark.parametrize("path,method", OPS, ids=[f"{m.upper()} {p}" for p, m in OPS])
def test_operation_answers_as_documented(api, path, method):
    op = api["schema"][path][method.upper()]
    keep_out = any(path.endswith(k) for k in KEEP_OUT) or method == "delete" and path == "/api/sessions/{name}"
    modes = st.sampled_from([schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE])

    @given(data=st.data())
    @settings(max_examples=SLOW.get(path, 6 if path in STREAMS else EXAMPLES), deadline=None, database=None,
              derandomize=True, suppress_health_check=list(HealthCheck))
    def run(data):
        case = data.draw(op.as_strategy(generation_mode=data.draw(modes)))
        for k in list(case.path_parameters or {}):
            choices = api["real"].get(k)
            if choices and not (keep_out and k == "name") and data.draw(REAL):
                case.path_parameters[k] = data.draw(st.sampled_from(choices))
        role = data.draw(st.sampled_from(ROLES))
        codes.append(case.call_and_validate(headers=api["headers"][role], checks=CHECKS).status_code)
    codes: list[int] = []
    run()
    print(f"{method.upper()} {path}: " + ", ".join(f"{c}x{codes.count(c)}" for c in sorted(set(codes))))
    assert set(codes) - {401, 403}, f"no example got past authentication: {codes}"
    # nothing the fuzzer sent ended or removed the session the examples run against
    assert api["store"].session("fuzz")["status"] == "paused"


def test_basic_auth_and_bad_authorization_headers_are_documented(api):
    c = api["app"].test_client()
    basic = {"Authorization": "Basic " + base64.b64encode(b"nobody:x").decode()}
    for h in (basic, {"Authorization": "Bearer x" * 3000}, {"Authorization": "Digest x"}):
        r = c.get("/api/sessions/fuzz/teams/blue/events", headers=h)
        assert r.status_code in (401, 429) and r.is_json and r.json["error"]

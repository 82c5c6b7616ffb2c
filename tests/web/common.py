"""What the web tests share: logins, the clock, fresh sessions and the OpenAPI conformance check."""
from __future__ import annotations

import base64
import re
import threading
import time
from contextlib import contextmanager
from pathlib import Path

from range import sessions

RULES = Path(__file__).resolve().parents[2] / "detections" / "rules"
SCAN_RULE = (RULES / "net_conn_port_scan.yml").read_text()
TRUTH_WORDS = ("recon", "syn_scan", "T1046", "Count the ports")  # the smoke scenario's ground truth


# ---- fixtures -------------------------------------------------------------------------------


def token(env, role="instructor", session=None, team=None) -> dict:
    c = env["app"].test_client()
    if role == "instructor":
        r = c.post("/api/login", json={"role": "instructor", "password": env["password"]})
    else:
        r = c.post("/api/login", json={"role": "team", "session": session, "team": team,
                                       "password": env["pw"][(session, team)]})
    assert r.status_code == 200, r.json
    return {"Authorization": f"Bearer {r.json['token']}"}


def basic(user: str, password: str) -> dict:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def csrf_of(client) -> str:
    html = client.get("/login").get_data(as_text=True)
    return re.search(r'name="csrf-token" content="([^"]+)"', html).group(1)


def browser(env, role="instructor", session=None, team=None):
    """A test client logged in through the login form (cookie), and its CSRF token."""
    c = env["app"].test_client()
    tok = csrf_of(c)
    form = {"csrf_token": tok, "role": role, "password": env["password"]} if role == "instructor" else \
        {"csrf_token": tok, "role": "team", "session": session, "team": team, "password": env["pw"][(session, team)]}
    r = c.post("/login", data=form)
    assert r.status_code == 302, r.get_data(as_text=True)
    return c, csrf_of(c)  # a login starts a new cookie session: a new CSRF token


def set_clock(env, name: str, elapsed: float, pause: bool = True) -> float:
    """Run session ``name`` to ``elapsed`` scenario seconds: one driver tick delivers and detects
    everything up to there; the session is then paused so the clock stays exactly there."""
    store = env["store"]
    row = store.session(name)
    now = time.time()
    with store.tx() as db:
        db.execute("UPDATE sessions SET status = 'running', started_wall = ?, paused_wall = NULL, paused_total = 0 "
                   "WHERE name = ?", (now - elapsed / row["speed"], name))
    env["driver"].tick(wall=now)
    if pause:
        with store.tx() as db:
            db.execute("UPDATE sessions SET status = 'paused', paused_wall = ? WHERE name = ?", (now, name))
    return store.clock(store.session(name)).now()


def fresh(env, name: str, teams=("blue",), speed: float = 20) -> dict:
    return sessions.create_session(env["store"], name, "smoke", list(teams), speed=speed)["teams"]


# ---- the OpenAPI document -------------------------------------------------------------------


def documented(client, doc: dict):
    """``check(method, url, template, code=200, **kw)``: make the request, expect ``code``, and check a
    JSON answer against what the OpenAPI document says of ``template`` for that code."""
    def check(method, url, template, code=200, **kw):
        r = getattr(client, method)(url, **kw)
        assert r.status_code == code, (url, r.status_code, r.get_data(as_text=True)[:300])
        content = doc["paths"][template][method]["responses"][str(code)]["content"]
        if "application/json" in content:
            conforms(doc, content["application/json"]["schema"], r.json, f"{method} {template}")
        return r
    return check


def conforms(doc: dict, schema: dict, value, where: str = "$") -> None:
    """A small OpenAPI 3.0 schema check: types, nullable, enums, required and undocumented keys."""
    if value is None:
        assert schema.get("nullable") or not schema, f"{where}: null where the schema says {schema}"
        return
    if "$ref" in schema:
        schema = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    if "allOf" in schema:
        merged = {"type": "object", "properties": {}, "required": []}
        for part in schema["allOf"]:
            part = doc["components"]["schemas"][part["$ref"].rsplit("/", 1)[1]] if "$ref" in part else part
            merged["properties"].update(part.get("properties", {}))
            merged["required"] += part.get("required", [])
        schema = merged
    if "oneOf" in schema:
        errors = []
        for option in schema["oneOf"]:
            try:
                return conforms(doc, option, value, where)
            except AssertionError as e:
                errors.append(str(e))
        raise AssertionError(f"{where}: matches no option: {errors}")
    t = schema.get("type")
    kinds = {"string": str, "boolean": bool, "array": list, "object": dict}
    if t in ("number", "integer"):
        assert isinstance(value, (int, float)) and not isinstance(value, bool), f"{where}: {value!r} is no {t}"
        if t == "integer":
            assert float(value).is_integer(), f"{where}: {value!r} is no integer"
    elif t:
        assert isinstance(value, kinds[t]), f"{where}: {type(value).__name__} where the schema says {t}"
    if "enum" in schema:
        assert value in schema["enum"], f"{where}: {value!r} not in {schema['enum']}"
    if t == "array":
        for i, v in enumerate(value):
            conforms(doc, schema.get("items", {}), v, f"{where}[{i}]")
    if t == "object" and isinstance(value, dict):
        props, extra = schema.get("properties"), schema.get("additionalProperties")
        for k in schema.get("required", []):
            assert k in value, f"{where}: required {k!r} missing"
        for k, v in value.items():
            if props and k in props:
                conforms(doc, props[k], v, f"{where}.{k}")
            elif isinstance(extra, dict):
                conforms(doc, extra, v, f"{where}.{k}")
            else:
                assert props is None or props == {} and extra is None, f"{where}: undocumented key {k!r}"


@contextmanager
def serving(app):
    """The app on a free local port in a thread (werkzeug), for a browser; yields its base URL."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(10)


@contextmanager
def team_page(base: str, session: str, team: str, password: str):
    """Debian's Chromium logged in as a team on its workspace; fails the test on any page error."""
    from tests.e2e.test_e2e_browser import context, launch_chromium, sync_playwright

    errors: list[str] = []
    with sync_playwright() as p:
        b = launch_chromium(p)
        try:
            ctx, pg = context(b, base, errors, "trainee")
            pg.goto(f"/login?session={session}")
            pg.get_by_test_id("team-login-team").fill(team)
            pg.get_by_test_id("team-login-password").fill(password)
            pg.get_by_test_id("team-login-submit").click()
            pg.wait_for_url(f"**/workspace/{session}/{team}")
            yield pg
            assert errors == [], errors
        finally:
            b.close()

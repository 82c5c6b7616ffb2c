"""Who is asking, and may they: logins, identities, tokens and the CSRF policy.

Identities: the **instructor** (one password: ``CYBERRANGE_INSTRUCTOR_PASSWORD`` if set, else a
generated one stored hashed in the state store's secrets table and printed once by
``cyberrange serve``) and **teams** (session + team + the password shown when the session was
created). Anyone else is anonymous and sees only the public scoreboard.

Ten failed logins as one user from one address within five minutes lock that pair out for
the rest of the five minutes (429). Three ways to prove it:
- the browser's **session cookie** (signed, HttpOnly, SameSite=Lax), set by the login form;
- a **bearer token** from ``POST /api/login`` (``Authorization: Bearer <token>``, signed with the
  app key, valid for ``API_TOKEN_MAX_AGE`` seconds, void when the password changes);
- **HTTP Basic** (``instructor:<password>`` or ``<session>/<team>:<password>``).

CSRF: every state-changing request that relies on the cookie must carry the CSRF token (the
form field ``csrf_token`` or the ``X-CSRFToken`` header; pages hold it in
``<meta name="csrf-token">``). Requests authenticated by an ``Authorization`` header are exempt
(a browser never attaches one to a forged cross-site request), and so is ``POST /api/login``,
which sets no cookie. An anonymous API request has no authority to borrow and is refused by the
view (401) rather than by the CSRF check.
"""
from __future__ import annotations

import base64
import binascii
import hmac
import threading
import time
from dataclasses import dataclass
from functools import wraps

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_wtf.csrf import CSRFProtect, generate_csrf
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from range.sessions import accounts
from range.sessions.accounts import check_instructor, check_team
from scoreboard.appstate import current_range
from scoreboard.util import body, text

bp = Blueprint("auth", __name__)
csrf = CSRFProtect()

SAFE = ("GET", "HEAD", "OPTIONS")
CSRF_EXEMPT = {"auth.api_login"}


@dataclass(frozen=True)
class Who:
    role: str | None = None  # "instructor", "team" or None (anonymous)
    session: str | None = None
    team: str | None = None
    via: str | None = None  # "cookie", "bearer", "basic"

    @property
    def instructor(self) -> bool:
        return self.role == "instructor"

    def may_see(self, session_name: str, team: str) -> bool:
        return self.instructor or (self.role == "team" and self.session == session_name and self.team == team)

    def public(self) -> dict:
        return {"role": self.role, "session": self.session, "team": self.team, "via": self.via}


def _instructor_stamp(store) -> str:
    """Changes whenever the instructor password changes: cookies and tokens carry it."""
    return hmac.new(current_app.secret_key.encode(), accounts.instructor_basis(store).encode(),
                    "sha256").hexdigest()[:16]


# ---- failed logins --------------------------------------------------------------------------

MAX_FAILURES = 10
FAILURE_WINDOW = 300.0
_failures: dict[tuple[str, str], list[float]] = {}
_failures_lock = threading.Lock()


def throttle(user: str) -> None:
    """429 once one address has failed ``MAX_FAILURES`` logins as one user within the window."""
    key = (request.remote_addr or "?", user)
    now = time.monotonic()
    recent = [t for t in _failures.get(key, []) if now - t < FAILURE_WINDOW]
    _failures[key] = recent
    if len(recent) >= MAX_FAILURES:
        abort(429, description=f"too many failed logins as {user!r} from this address; try again in "
                               f"{int(FAILURE_WINDOW - (now - recent[0])) + 1} s")


def failed(user: str) -> None:
    with _failures_lock:
        if len(_failures) > 10_000:
            _failures.clear()
        _failures.setdefault((request.remote_addr or "?", user), []).append(time.monotonic())


# ---- tokens ---------------------------------------------------------------------------------

def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key, salt="cyberrange-api-token")


def issue_token(who: Who) -> str:
    data = {"role": who.role, "session": who.session, "team": who.team}
    if who.instructor:
        data["stamp"] = _instructor_stamp(current_range().store)
    return _serializer().dumps(data)


def _from_token(token: str) -> Who | None:
    try:
        data = _serializer().loads(token, max_age=current_app.config["API_TOKEN_MAX_AGE"])
    except (SignatureExpired, BadSignature):
        return None
    return _valid(data, "bearer", current_range().store)


def _valid(data: dict, via: str, store) -> Who | None:
    if not isinstance(data, dict):
        return None
    if data.get("role") == "instructor":
        return Who("instructor", via=via) if data.get("stamp") == _instructor_stamp(store) else None
    if data.get("role") == "team" and accounts.team_exists(store, data.get("session"), data.get("team")):
        return Who("team", data["session"], data["team"], via=via)
    return None


def _from_basic(value: str, store) -> Who | None:
    try:
        user, _, password = base64.b64decode(value, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    throttle(user)
    if user == "instructor":
        who = Who("instructor", via="basic") if check_instructor(store, password) else None
    else:
        sess, _, team = user.partition("/")
        who = Who("team", sess, team, via="basic") if check_team(store, sess, team, password) else None
    if who is None:
        failed(user)
    return who


# ---- per request ----------------------------------------------------------------------------

def load_identity() -> None:
    store = current_range().store
    header = request.headers.get("Authorization", "")
    g.who = Who()
    if header:
        scheme, _, value = header.partition(" ")
        who = None
        if scheme.lower() == "bearer":
            who = _from_token(value.strip())
        elif scheme.lower() == "basic":
            who = _from_basic(value.strip(), store)
        if who is None:
            abort(401, description="the Authorization header holds no valid token or password "
                                   "(use 'Bearer <token from POST /api/login>' or Basic)")
        g.who = who
        return
    role = session.get("role")
    if role:
        who = _valid({"role": role, "session": session.get("session"), "team": session.get("team"),
                      "stamp": session.get("stamp")}, "cookie", store)
        if who is None:
            session.clear()  # the password changed or the session was deleted
        else:
            g.who = who


def enforce_csrf() -> None:
    if request.method in SAFE or g.who.via in ("bearer", "basic") or request.endpoint in CSRF_EXEMPT:
        return
    if request.path.startswith("/api/") and g.who.role is None:
        return  # nothing to borrow: the view answers 401
    csrf.protect()


def template_globals() -> dict:
    return {"who": getattr(g, "who", Who()), "csrf_token": generate_csrf}


def login_required(role: str | None = None):
    """401 for anonymous callers, 403 for the wrong role."""
    def wrap(fn):
        @wraps(fn)
        def inner(*a, **kw):
            who = g.who
            if who.role is None:
                if not request.path.startswith("/api/"):
                    return redirect(url_for("auth.login", next=request.path))
                abort(401, description="log in first (POST /api/login, HTTP Basic, or the login page)")
            if role and who.role != role:
                abort(403, description=f"only the {role} may do this")
            return fn(*a, **kw)
        return inner
    return wrap


instructor_required = login_required("instructor")


def team_required(fn):
    """The view takes ``name`` (session) and ``team``: the instructor or that very team only."""
    @wraps(fn)
    def inner(*a, **kw):
        who = g.who
        if who.role is None:
            if not request.path.startswith("/api/"):
                return redirect(url_for("auth.login", next=request.path))
            abort(401, description="log in first (POST /api/login, HTTP Basic, or the login page)")
        if not who.may_see(kw["name"], kw["team"]):
            abort(403, description="a team sees only its own rules, events, alerts, packets and score")
        if not accounts.team_exists(current_range().store, kw["name"], kw["team"]):
            abort(404, description=f"session {kw['name']!r} has no team {kw['team']!r}")
        return fn(*a, **kw)
    return inner


def _login(who: Who) -> None:
    session.clear()
    session.permanent = True
    session.update(role=who.role, session=who.session, team=who.team)
    if who.instructor:
        session["stamp"] = _instructor_stamp(current_range().store)


# ---- routes ---------------------------------------------------------------------------------

@bp.route("/login", methods=["GET", "POST"])
def login():
    store = current_range().store
    error = None
    if request.method == "POST":
        form = request.form
        if form.get("role") == "instructor":
            throttle("instructor")
            if check_instructor(store, form.get("password", "")):
                _login(Who("instructor"))
                return redirect(_next(url_for("console.index")))
            failed("instructor")
            error = "wrong instructor password"
        else:
            sess, team = form.get("session", "").strip(), form.get("team", "").strip()
            throttle(f"{sess}/{team}")
            if check_team(store, sess, team, form.get("password", "")):
                _login(Who("team", sess, team))
                return redirect(_next(url_for("workspace.home", name=sess, team=team)))
            failed(f"{sess}/{team}")
            error = "wrong session, team or password"
    sessions = [r["name"] for r in store.sessions()]
    return render_template("login.html", error=error, sessions=sessions,
                           preset=request.args.get("session", "")), 401 if error else 200


def _next(default: str) -> str:
    nxt = request.args.get("next", "")
    return nxt if nxt.startswith("/") and not nxt.startswith("//") else default


@bp.route("/logout", methods=["POST"])
def logout():
    session.clear()
    flash("logged out")
    return redirect(url_for("board.index"))


@bp.route("/api/login", methods=["POST"])
def api_login():
    store = current_range().store
    data = body()
    role = text(data, "role", choices=("instructor", "team"))
    password = text(data, "password", max_len=200)
    if role == "instructor":
        throttle("instructor")
        if not check_instructor(store, password):
            failed("instructor")
            abort(401, description="wrong instructor password")
        who = Who("instructor", via="bearer")
    else:
        sess, team = text(data, "session"), text(data, "team")
        throttle(f"{sess}/{team}")
        if not check_team(store, sess, team, password):
            failed(f"{sess}/{team}")
            abort(401, description="wrong session, team or password")
        who = Who("team", sess, team, via="bearer")
    return jsonify({"token": issue_token(who), "token_type": "Bearer",
                    "expires_in": current_app.config["API_TOKEN_MAX_AGE"], **who.public()})


@bp.route("/api/logout", methods=["POST"])
def api_logout():
    session.clear()
    return jsonify({"ok": True})


@bp.route("/api/whoami")
def whoami():
    return jsonify(g.who.public())


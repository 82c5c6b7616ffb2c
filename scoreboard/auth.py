"""Who is asking, and may they: logins, identities, tokens and the CSRF policy.

Identities: the **instructor** (one password: ``CYBERRANGE_INSTRUCTOR_PASSWORD`` if set, else a
generated one stored hashed in the state store's secrets table and printed once by
``cyberrange serve``) and **teams** (session + team + the password shown when the session was
created). Anyone else is anonymous and sees only the public scoreboard.

Failed logins are throttled (:mod:`.throttle`): after ``LOGIN_MAX_FAILURES`` (5) failures as one
account from one client address (so a rival elsewhere cannot lock a team out), or
``LOGIN_MAX_FAILURES_PER_ADDRESS`` (20) from one client address over any accounts, within
``LOGIN_FAILURE_WINDOW`` (300) seconds, logins as that account or from that address are refused
with 429 and ``Retry-After`` until the oldest of those failures is that old; a successful login
forgets the account's failures. Session and team names are lower case, so a typed 'Blue' logs in
as 'blue'; spaces a paste adds around a password are ignored (:mod:`range.sessions.accounts`).
Three ways to prove who you are:
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
from werkzeug.exceptions import TooManyRequests

from range.sessions import accounts
from range.sessions.accounts import check_instructor, check_team
from scoreboard.appstate import current_range
from scoreboard.throttle import Failures
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

def _limits(account: str) -> dict:
    c = current_app.config
    addr = request.remote_addr or "?"
    # the account's count is kept per address: a rival guessing from another machine must not
    # lock a team out of its own login; the per-address count stops guessing spread over accounts
    return {("account", f"{account}@{addr}"): c["LOGIN_MAX_FAILURES"],
            ("address", addr): c["LOGIN_MAX_FAILURES_PER_ADDRESS"]}


def _failures() -> Failures:
    return current_app.extensions["cyberrange_logins"]


def lockout(account: str) -> tuple[int, str] | None:
    """(seconds to wait, what to tell the user) while the account or this address has failed too
    often lately; None when a login may be tried."""
    locked = _failures().locked(_limits(account), current_app.config["LOGIN_FAILURE_WINDOW"])
    if not locked:
        return None
    seconds = int(max(locked.values())) + 1
    who = " and ".join(f"as {v.rpartition('@')[0]!r} from your address" if kind == "account" else
                       "from your address" for kind, v in locked)
    return seconds, f"too many failed logins {who} lately: try again in {_in(seconds)}"


def _in(seconds: int) -> str:
    return f"{seconds} s" if seconds < 90 else f"{seconds // 60} min {seconds % 60} s"


def throttle(account: str) -> None:
    """429 with Retry-After while :func:`lockout` holds."""
    locked = lockout(account)
    if locked:
        raise TooManyRequests(description=locked[1], retry_after=locked[0])


def failed(account: str) -> None:
    _failures().failed(_limits(account), current_app.config["LOGIN_FAILURE_WINDOW"])


def attempt(store, account: str, password: str, via: str | None = None) -> Who | None:
    """Check ``password`` for ``instructor`` or ``<session>/<team>`` (names as :func:`account_of` gives
    them); a failure is counted, a success forgets the account's failures."""
    if account == "instructor":
        who = Who("instructor", via=via) if check_instructor(store, password) else None
    else:
        sess, _, team = account.partition("/")
        who = Who("team", sess, team, via=via) if check_team(store, sess, team, password) else None
    if who is None:
        failed(account)
    else:
        _failures().forget(("account", f"{account}@{request.remote_addr or '?'}"))
    return who


def account_of(role: str | None, session_name: str = "", team: str = "") -> str:
    """The account a login names: session and team names are lower case (a typed 'Blue' is 'blue')."""
    if role == "instructor":
        return "instructor"
    return f"{accounts.login_name(session_name)[:64]}/{accounts.login_name(team)[:64]}"  # real names: 31 at most


def wrong(store, account: str) -> str:
    """Why a login failed, naming the part that is wrong (sessions and teams are public: the board lists them)."""
    if account == "instructor":
        return "wrong instructor password"
    sess, _, team = account.partition("/")
    teams = store.teams(sess)
    if not teams:
        return f"there is no session {sess!r}: check the session name (the scoreboard lists every session)"
    if team not in teams:
        return f"session {sess!r} has no team {team!r}; its teams: {', '.join(teams)}"
    return f"wrong password for team {team!r} of session {sess!r} (passwords are case-sensitive)"


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
    sess, _, team = user.partition("/")
    account = account_of("instructor" if accounts.login_name(user) == "instructor" else "team", sess, team)
    throttle(account)
    return attempt(store, account, password, via="basic")


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
    error, retry = None, None
    if request.method == "POST":
        form = request.form
        role = "instructor" if form.get("role") == "instructor" else "team"
        account = account_of(role, form.get("session", ""), form.get("team", ""))
        locked = lockout(account)
        if locked:
            retry, error = locked
        else:
            who = attempt(store, account, form.get("password", ""))
            if who:
                _login(who)
                home = url_for("console.index") if who.instructor else \
                    url_for("workspace.home", name=who.session, team=who.team)
                return redirect(_next(home))
            error = wrong(store, account)
    sessions = [r["name"] for r in store.sessions()]
    page = render_template("login.html", error=error, sessions=sessions, preset=request.args.get("session", ""))
    if retry:
        return page, 429, {"Retry-After": str(retry)}
    return page, 401 if error else 200


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
        account = account_of(role)
    else:
        account = account_of(role, text(data, "session"), text(data, "team"))
    throttle(account)
    who = attempt(store, account, password, via="bearer")
    if who is None:
        abort(401, description=wrong(store, account))
    return jsonify({"token": issue_token(who), "token_type": "Bearer",
                    "expires_in": current_app.config["API_TOKEN_MAX_AGE"], **who.public()})


@bp.route("/api/logout", methods=["POST"])
def api_logout():
    session.clear()
    return jsonify({"ok": True})


@bp.route("/api/whoami")
def whoami():
    return jsonify(g.who.public())


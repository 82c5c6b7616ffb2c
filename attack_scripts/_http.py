"""Shared HTTP pieces for the web techniques and the benign web traffic.

* raw HTTP/1.1 messages with headers in the order each real client sends them (browsers,
  sqlmap's urllib with ``Request.add_header``'s ``Capitalize`` spelling, WinINet);
* answers as nginx/1.22.1 in front of PHP-FPM gives them: PHP output ``Transfer-Encoding:
  chunked``, static files with ``Content-Length``, ``Last-Modified``, nginx's ``ETag`` and
  ``Accept-Ranges``, ``304 Not Modified``, nginx's own 301/404 pages (the portal's nginx has
  ``gzip off``, so bodies stay readable in Wireshark's *Follow TCP stream*);
* the ministry portal's pages and static assets, the same for every visitor;
* :class:`Conn`, a keep-alive connection assembled exchange by exchange that knows, to the
  synthesiser's own arithmetic, when each of its packets goes on the wire; given the portal's
  :class:`AccessLog`, it writes each exchange's line of nginx's access log (host records) from
  the very request and answer it sends, at the time the answer goes out.
"""
from __future__ import annotations

import html
import random
import re
import zlib
from dataclasses import dataclass
from typing import Callable, Literal
from urllib.parse import quote

from range.core import rng as seeded
from range.topology import SERVICES, Host
from range.traffic import MSS, HostLog, TcpSession, http_date

PORT = SERVICES["http"].port
NGINX = SERVICES["http"].banner  # nginx/1.22.1

REASONS = {200: "OK", 201: "Created", 204: "No Content", 206: "Partial Content", 301: "Moved Permanently",
           302: "Found", 303: "See Other", 304: "Not Modified", 400: "Bad Request", 401: "Unauthorized",
           403: "Forbidden", 404: "Not Found", 405: "Not Allowed", 413: "Request Entity Too Large",
           500: "Internal Server Error", 502: "Bad Gateway", 504: "Gateway Time-out"}

Headers = list[tuple[str, str]]

# ---- user agents ---------------------------------------------------------------------------

SQLMAP_UA = "sqlmap/1.7.2#stable (https://sqlmap.org)"

# picked by sqlmap --random-agent from its data/txt/user-agents.txt (old browsers: itself a tell)
SQLMAP_RANDOM_AGENTS = [
    "Mozilla/5.0 (Windows; U; Windows NT 5.1; en-US; rv:1.9.0.1) Gecko/2008070208 Firefox/3.0.1",
    "Mozilla/5.0 (Windows NT 6.1; WOW64; rv:21.0) Gecko/20130401 Firefox/21.0",
    "Mozilla/5.0 (Windows; U; Windows NT 5.1; de; rv:1.9.1.4) Gecko/20091007 Firefox/3.5.4",
    "Mozilla/5.0 (Windows NT 6.2; WOW64; rv:16.0.1) Gecko/20121011 Firefox/16.0.1",
    "Opera/9.80 (Windows NT 6.1; U; es-ES) Presto/2.9.181 Version/12.00",
    "Mozilla/4.0 (compatible; MSIE 8.0; Windows NT 6.1; Trident/4.0; SLCC2; .NET CLR 2.0.50727)",
    "Mozilla/5.0 (compatible; MSIE 10.0; Windows NT 6.1; WOW64; Trident/6.0)",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/535.11 (KHTML, like Gecko) Chrome/17.0.963.66 Safari/535.11",
    "Mozilla/5.0 (Windows NT 6.1; WOW64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/41.0.2228.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_7_3) AppleWebKit/534.55.3 (KHTML, like Gecko) Version/5.1.3 Safari/534.53.10",  # noqa: E501
    "Mozilla/5.0 (Windows; U; Windows NT 6.1; en-GB; rv:1.9.2.13) Gecko/20101203 Firefox/3.6.13 (.NET CLR 3.5.30729)",
    "Mozilla/5.0 (Windows NT 6.3; rv:36.0) Gecko/20100101 Firefox/36.0",
]

KALI_FIREFOX_UA = "Mozilla/5.0 (X11; Linux x86_64; rv:109.0) Gecko/20100101 Firefox/115.0"
WGET_UA = "Wget/1.21.3"

_CHROME = ["119.0.0.0", "120.0.0.0", "121.0.0.0", "122.0.0.0"]
_EDGE = ["119.0.2151.97", "120.0.2210.91", "121.0.2277.128", "122.0.2365.66"]
_FIREFOX = ["115.0", "120.0", "121.0", "122.0", "123.0"]
_LANGS_CHROMIUM = [
    "en-US,en;q=0.9",
    "sq-AL,sq;q=0.9,en-US;q=0.8,en;q=0.7",
    "sr-RS,sr;q=0.9,en-US;q=0.8,en;q=0.7",
    "mk-MK,mk;q=0.9,en-US;q=0.8,en;q=0.7",
    "en-GB,en-US;q=0.9,en;q=0.8",
]
_LANGS_FIREFOX = ["en-US,en;q=0.5", "sq,en-US;q=0.7,en;q=0.3", "sr,en-US;q=0.7,en;q=0.3", "en-GB,en;q=0.5"]

ACCEPT_DOC = {
    "chrome": "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8,"
    "application/signed-exchange;v=b3;q=0.7",
    "firefox": "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8",
}
ACCEPT_SUB = {
    "chrome": {
        "css": "text/css,*/*;q=0.1",
        "js": "*/*",
        "img": "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8",
        "font": "*/*",
        "json": "application/json, text/javascript, */*; q=0.01",
    },
    "firefox": {
        "css": "text/css,*/*;q=0.1",
        "js": "*/*",
        "img": "image/avif,image/webp,*/*",
        "font": "application/font-woff2;q=1.0,application/font-woff;q=0.9,*/*;q=0.8",
        "json": "application/json, text/javascript, */*; q=0.01",
    },
}


@dataclass
class Browser:
    """One workstation's browser: Chrome, Edge (Chromium headers) or Firefox on Windows 10/11."""

    family: Literal["chrome", "edge", "firefox"]
    ua: str
    lang: str

    @property
    def engine(self) -> str:
        return "firefox" if self.family == "firefox" else "chrome"

    @classmethod
    def pick(cls, r: random.Random) -> "Browser":
        fam = r.choices(["chrome", "edge", "firefox"], weights=[5, 3, 2])[0]
        if fam == "firefox":
            v = r.choice(_FIREFOX)
            return cls(
                fam,
                f"Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:{v}) Gecko/20100101 Firefox/{v}",
                r.choice(_LANGS_FIREFOX),
            )
        i = r.randrange(len(_CHROME))
        ua = f"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{_CHROME[i]} Safari/537.36"  # noqa: E501
        if fam == "edge":
            ua += f" Edg/{_EDGE[i]}"
        return cls(fam, ua, r.choice(_LANGS_CHROMIUM))

    @classmethod
    def kali(cls) -> "Browser":
        return cls("firefox", KALI_FIREFOX_UA, "en-US,en;q=0.5")

    def request(
        self,
        method: str,
        host: str,
        target: str,
        *,
        kind: str = "doc",
        referer: str | None = None,
        cookie: str | None = None,
        body: bytes = b"",
        content_type: str | None = None,
        origin: str | None = None,
        conditional: tuple[str, str] | None = None,
        xhr: bool = False,
    ) -> bytes:
        """A request as this browser sends it. ``kind``: doc, css, js, img, font, json, download.
        ``conditional``: (ETag, Last-Modified) of a cached copy to revalidate."""
        doc = kind in ("doc", "download")
        accept = ACCEPT_DOC[self.engine] if doc else ACCEPT_SUB[self.engine][kind]
        h: Headers = [("Host", host)]
        if self.engine == "chrome":
            h.append(("Connection", "keep-alive"))
            if body or method == "POST":
                h.append(("Content-Length", str(len(body))))
            if doc and method == "POST":
                h.append(("Cache-Control", "max-age=0"))
            if xhr:
                h += [("Accept", accept), ("X-Requested-With", "XMLHttpRequest"), ("User-Agent", self.ua)]
                if content_type:
                    h.append(("Content-Type", content_type))
                if origin:
                    h.append(("Origin", origin))
            else:
                if doc:
                    h.append(("Upgrade-Insecure-Requests", "1"))
                if origin:
                    h.append(("Origin", origin))
                if content_type:
                    h.append(("Content-Type", content_type))
                h += [("User-Agent", self.ua), ("Accept", accept)]
            if referer:
                h.append(("Referer", referer))
            h += [("Accept-Encoding", "gzip, deflate"), ("Accept-Language", self.lang)]
            if cookie:
                h.append(("Cookie", cookie))
            if conditional:
                h += [("If-None-Match", conditional[0]), ("If-Modified-Since", conditional[1])]
        else:
            h += [
                ("User-Agent", self.ua),
                ("Accept", accept),
                ("Accept-Language", self.lang),
                ("Accept-Encoding", "gzip, deflate"),
            ]
            if xhr:
                h.append(("X-Requested-With", "XMLHttpRequest"))
            if content_type:
                h.append(("Content-Type", content_type))
            if body or method == "POST":
                h.append(("Content-Length", str(len(body))))
            if origin:
                h.append(("Origin", origin))
            h.append(("Connection", "keep-alive"))
            if referer:
                h.append(("Referer", referer))
            if cookie:
                h.append(("Cookie", cookie))
            if doc:
                h.append(("Upgrade-Insecure-Requests", "1"))
            if conditional:
                h += [("If-Modified-Since", conditional[1]), ("If-None-Match", conditional[0])]
        return request(method, target, h, body)


# ---- raw messages --------------------------------------------------------------------------


def request(method: str, target: str, headers: Headers, body: bytes = b"") -> bytes:
    """A request line and exactly these headers, in this order (Content-Length is the caller's)."""
    lines = [f"{method} {target} HTTP/1.1"] + [f"{k}: {v}" for k, v in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def chunked(body: bytes, size: int = 8192) -> bytes:
    """``Transfer-Encoding: chunked`` as nginx relays PHP-FPM output (one chunk per buffer)."""
    out = b""
    for i in range(0, len(body), size):
        part = body[i : i + size]
        out += f"{len(part):x}\r\n".encode() + part + b"\r\n"
    return out + b"0\r\n\r\n"


def response(status: int, headers: Headers, body: bytes = b"", *, is_chunked: bool = False) -> bytes:
    head = (
        f"HTTP/1.1 {status} {REASONS.get(status, 'Unknown')}\r\n"
        + "".join(f"{k}: {v}\r\n" for k, v in headers)
        + "\r\n"
    )
    return head.encode("latin-1") + (chunked(body) if is_chunked else body)


def php(
    status: int,
    when: float,
    body: bytes | str,
    *,
    content_type: str = "text/html; charset=UTF-8",
    extra: Headers = (),
    keep_alive: bool = True,
) -> bytes:
    """A PHP script's answer through nginx: chunked, PHP's own headers after nginx's."""
    if isinstance(body, str):
        body = body.encode()
    h: Headers = [
        ("Server", NGINX),
        ("Date", http_date(when)),
        ("Content-Type", content_type),
        ("Transfer-Encoding", "chunked"),
        ("Connection", "keep-alive" if keep_alive else "close"),
    ]
    return response(status, h + list(extra), body, is_chunked=True)


PHP_SESSION_HEADERS: Headers = [
    ("Expires", "Thu, 19 Nov 1981 08:52:00 GMT"),
    ("Cache-Control", "no-store, no-cache, must-revalidate"),
    ("Pragma", "no-cache"),
]


def session_id(r: random.Random) -> str:
    """A PHP 8 session id (26 characters, 5 bits each)."""
    return "".join(r.choice("0123456789abcdefghijklmnopqrstuv") for _ in range(26))


def nginx_error(status: int, when: float, extra: Headers = ()) -> bytes:
    """nginx's built-in error or redirect page (404, 301, 403...)."""
    title = f"{status} {REASONS[status]}"
    body = (
        f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n<center><h1>{title}</h1></center>\r\n"
        f"<hr><center>{NGINX}</center>\r\n</body>\r\n</html>\r\n"
    ).encode()
    h: Headers = [
        ("Server", NGINX),
        ("Date", http_date(when)),
        ("Content-Type", "text/html"),
        ("Content-Length", str(len(body))),
        ("Connection", "keep-alive"),
    ]
    return response(status, h + list(extra), body)


def nginx_static(when: float, asset: "Asset", extra: Headers = ()) -> bytes:
    h: Headers = [
        ("Server", NGINX),
        ("Date", http_date(when)),
        ("Content-Type", asset.content_type),
        ("Content-Length", str(len(asset.body))),
        ("Last-Modified", http_date(asset.mtime)),
        ("Connection", "keep-alive"),
        ("ETag", asset.etag),
    ]
    h += list(extra)
    h.append(("Accept-Ranges", "bytes"))
    return response(200, h, asset.body)


def nginx_not_modified(when: float, asset: "Asset") -> bytes:
    return response(
        304,
        [
            ("Server", NGINX),
            ("Date", http_date(when)),
            ("Last-Modified", http_date(asset.mtime)),
            ("Connection", "keep-alive"),
            ("ETag", asset.etag),
        ],
    )


def form_urlencode(fields: list[tuple[str, str]]) -> str:
    """``application/x-www-form-urlencoded`` as browsers encode form fields (space as ``+``)."""
    return "&".join(
        f"{quote(k, safe='*-._', encoding='utf-8').replace('%20', '+')}="
        f"{quote(v, safe='*-._ ', encoding='utf-8').replace(' ', '+')}"
        for k, v in fields
    )


def browser_query(text: str) -> str:
    """What a browser's address bar puts on the wire for a typed query value (the URL standard's
    query percent-encode set, plus ``&``/``+``/``%`` which a user typing a value must escape)."""
    out = []
    for ch in text:
        if ch in " \"#<>'&+%" or ord(ch) < 0x21 or ord(ch) > 0x7E:
            out.append("".join(f"%{b:02X}" for b in ch.encode()))
        else:
            out.append(ch)
    return "".join(out)


def multipart(boundary: str, parts: list[tuple[str, str | None, str | None, bytes]]) -> bytes:
    """``multipart/form-data`` body: parts are (name, filename, content type, data)."""
    out = b""
    for name, filename, ctype, data in parts:
        out += f"--{boundary}\r\n".encode()
        disp = f'Content-Disposition: form-data; name="{name}"' + (
            f'; filename="{filename}"' if filename is not None else ""
        )
        out += disp.encode() + b"\r\n"
        if ctype:
            out += f"Content-Type: {ctype}\r\n".encode()
        out += b"\r\n" + data + b"\r\n"
    return out + f"--{boundary}--\r\n".encode()


def firefox_boundary(r: random.Random) -> str:
    return "-" * 27 + "".join(r.choice("0123456789") for _ in range(r.choice((28, 29, 30))))


def chrome_boundary(r: random.Random) -> str:
    return "----WebKitFormBoundary" + "".join(
        r.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789") for _ in range(16)
    )


def windows_port(r: random.Random) -> int:
    """A Windows client's source port (dynamic range 49152-65535)."""
    return r.randint(49152, 65535)


# ---- a keep-alive connection, built exchange by exchange ----------------------------------


def send_time(n: int, rtt: float) -> float:
    """How far the synthesiser's clock moves sending ``n`` bytes (serialisation + the ACK)."""
    if n == 0:
        return 0.0
    t, off = 0.0, 0
    while off < n:
        chunk = min(MSS, n - off)
        off += chunk
        t += 0.00002 * chunk / 100 + 0.00001
    return t + rtt / 2


@dataclass(frozen=True)
class AccessLog:
    """nginx's access log on the web server ``node``, written through ``log``
    (:meth:`range.traffic.HostLog.access`): a :class:`Conn` to that server given one writes a
    line for each of its exchanges."""

    log: HostLog
    node: str

    def exchange(self, when: float, client: str, request: bytes, answer: bytes) -> dict:
        """The line of ``request`` from ``client``, answered at ``when`` with ``answer``: its
        request line, ``Host``, ``Referer`` and ``User-Agent``, the answer's status and the
        bytes after its header, the request's length."""
        head = request.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
        parts = head[0].split(" ")
        if len(parts) != 3 or not parts[2].startswith("HTTP/"):
            raise ValueError(f"not an HTTP request line: {head[0][:80]!r}")
        headers: dict[str, str] = {}
        for h in head[1:]:
            k, _, v = h.partition(":")
            headers.setdefault(k.strip().lower(), v.strip())
        status_line, sep, body = answer.partition(b"\r\n\r\n")
        status = status_line.split(b"\r\n", 1)[0].split(b" ")
        if not sep or len(status) < 2 or not status[0].startswith(b"HTTP/") or not status[1].isdigit():
            raise ValueError(f"not an HTTP response: {answer[:80]!r}")
        return self.log.access(when, self.node, client, parts[0], parts[1], int(status[1]), len(body),
                               version=parts[2], referer=headers.get("referer"),
                               user_agent=headers.get("user-agent"), vhost=headers.get("host"),
                               request_length=len(request))


class Conn:
    """A TCP connection from ``client`` to ``server:dport`` with messages appended in order.

    ``now`` is the synthesiser's clock after the last message (its ACK included), so the next
    message's delay counts from it and :attr:`end` is the time of the session's last packet.
    ``access``: the server's access log, when the server is the portal's nginx (it writes one
    line per exchange, at the time the answer goes out).
    """

    def __init__(self, t: float, client: str, server: str, sport: int, dport: int = PORT, rtt: float = 0.0008,
                 access: AccessLog | None = None):
        self.t = t
        self.client, self.server, self.sport, self.dport, self.rtt = client, server, sport, dport, rtt
        self.now = t + rtt
        self.messages: list[tuple[float, str, bytes]] = []
        self.requests = 0
        self.close: str = "client_fin"
        self.access = access

    def send(self, delay: float, side: str, data: bytes) -> float:
        self.messages.append((delay, side, data))
        self.now += delay + send_time(len(data), self.rtt)
        return self.now

    def exchange(self, request: bytes, answer: Callable[[float], bytes] | bytes, think: float, latency: float) -> float:
        """The client sends ``request`` ``think`` seconds after the last event; the server
        answers ``latency`` seconds later. ``answer`` may take the answer's time (for ``Date``)."""
        self.send(think, "c", request)
        when = self.now + latency
        data = answer(when) if callable(answer) else answer
        self.send(latency, "s", data)
        self.requests += 1
        if self.access is not None:
            self.access.exchange(when, self.client, request, data)
        return self.now

    def idle(self, seconds: float) -> None:
        """Nothing on the wire for ``seconds`` (before the close, say nginx's keepalive_timeout)."""
        self.send(seconds, "c" if self.close == "client_fin" else "s", b"")

    @property
    def end(self) -> float:
        if self.close in ("client_fin", "server_fin"):
            return self.now + 0.0005 + self.rtt
        return self.now + 0.0005

    def session(self) -> TcpSession:
        return TcpSession(
            t=self.t,
            client=self.client,
            server=self.server,
            sport=self.sport,
            dport=self.dport,
            messages=list(self.messages),
            close=self.close,
            rtt=self.rtt,
        )


def lan_rtt(r: random.Random) -> float:
    return r.uniform(0.0003, 0.0015)


# ---- the ministry portal ------------------------------------------------------------------


def fqdn(host: Host, domain: str) -> str:
    return f"{host.hostname}.{domain}"


def site_name(domain: str) -> str:
    label = domain.split(".")[0]
    return f"Ministry of {label.capitalize()}" if label != "ministry" else "Ministry Portal"


ARTICLES = [
    (
        "Public consultation on the 2027 state budget",
        "The draft budget for 2027 is open for public comment until the end of the month.",
    ),
    (
        "New e-services for citizens and businesses",
        "Twelve administrative procedures can now be completed online through the portal.",
    ),
    (
        "Minister meets EU delegation on accession chapters",
        "Talks focused on public administration reform and the rule of law.",
    ),
    (
        "Call for applications: civil service internships",
        "Graduates under 27 may apply for six-month internships in central institutions.",
    ),
    (
        "Procurement notice: office equipment framework",
        "Bidders must submit tenders through the electronic procurement system.",
    ),
    (
        "Working hours during the national holidays",
        "Front offices will be closed on 28 and 29 November; e-services remain available.",
    ),
    (
        "Annual report on administrative performance published",
        "The report covers service delivery times, staffing and digitalisation.",
    ),
    (
        "Cybersecurity awareness month: protect your accounts",
        "Staff are reminded to use strong passwords and to report suspicious e-mails.",
    ),
    (
        "Regional cooperation agreement signed in Skopje",
        "The agreement covers data exchange between civil registries of the region.",
    ),
    (
        "Open data: new datasets on public spending",
        "Monthly spending by budget line is now available in machine-readable form.",
    ),
]

_FILLER = [
    "The ministry invites all interested parties to take part in the process.",
    "Further information is available from the public relations office during working hours.",
    "Documents referred to in this notice can be downloaded from the Documents section.",
    "The measure is part of the public administration reform strategy 2023-2030.",
    "Comments received will be summarised in a report published on this portal.",
    "Citizens can follow the progress of their requests with the reference number they received.",
    "The working group includes representatives of local government and civil society.",
    "Applications submitted after the deadline will not be considered.",
]

NAV = [
    ("/index.php", "Home"),
    ("/news.php", "News"),
    ("/docs.php", "Documents"),
    ("/search.php", "Search"),
    ("/contact.php", "Contact"),
    ("/login.php", "Staff login"),
]


def page(domain: str, title: str, content: str) -> str:
    """The portal's page layout around ``content`` (HTML)."""
    site = site_name(domain)
    nav = "".join(f'<li><a href="{u}">{t}</a></li>' for u, t in NAV)
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{html.escape(title)} | {site}</title>\n"
        '<link rel="stylesheet" href="/assets/css/main.css?v=3.2.1">\n'
        '<link rel="icon" href="/favicon.ico">\n'
        '<script src="/assets/js/jquery-3.6.4.min.js"></script>\n'
        '<script src="/assets/js/app.js?v=3.2.1" defer></script>\n'
        '</head>\n<body>\n<header class="site-header">\n'
        f'<a class="brand" href="/index.php"><img src="/assets/img/logo.png" alt="{site}" '
        'width="180" height="48"></a>\n'
        f"<nav><ul>{nav}</ul></nav>\n"
        '<form class="search" action="/search.php" method="get"><input type="text" name="q" '
        'placeholder="Search the portal"><button type="submit">Search</button></form>\n'
        '</header>\n<main class="container">\n'
        f"{content}\n"
        '</main>\n<footer class="site-footer">\n'
        f'<p>&copy; 2026 {site}. All rights reserved. | <a href="/contact.php">Contact</a> | '
        '<a href="/privacy.php">Privacy</a> | <a href="/accessibility.php">Accessibility</a></p>\n'
        "</footer>\n</body>\n</html>\n"
    )


def article_html(
    domain: str, n: int, title: str | None = None, body: str | None = None, date: str | None = None
) -> str:
    """news.php?id=n: one article (title and body may be replaced, as a UNION injection does)."""
    t, lead = ARTICLES[(n - 1) % len(ARTICLES)]
    title = t if title is None else title
    if body is None:
        r = seeded("article", domain, n)
        body = "\n".join(f"<p>{lead if i == 0 else ' '.join(r.sample(_FILLER, 3))}</p>" for i in range(r.randint(3, 6)))
    date = date if date is not None else f"2026-11-{1 + (n * 7) % 27:02d}"
    content = (
        f'<article class="news">\n<h1>{title}</h1>\n<p class="meta">Published {date}</p>\n'
        f'<div class="body">\n{body}\n</div>\n</article>\n'
        '<p><a href="/news.php">&laquo; All news</a></p>'
    )
    return page(domain, strip_tags(title) or "News", content)


def strip_tags(text: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", text))


def news_list_html(domain: str) -> str:
    items = "".join(
        f'<li><a href="/news.php?id={i + 1}">{t}</a> <span class="date">2026-11-{1 + ((i + 1) * 7) % 27:02d}</span></li>\n'  # noqa: E501
        for i, (t, _) in enumerate(ARTICLES)
    )
    return page(domain, "News", f'<h1>News</h1>\n<ul class="news-list">\n{items}</ul>')


def home_html(domain: str) -> str:
    cards = "".join(
        f'<div class="card"><h3><a href="/news.php?id={i + 1}">{t}</a></h3><p>{lead}</p></div>\n'
        for i, (t, lead) in enumerate(ARTICLES[:4])
    )
    return page(
        domain,
        "Home",
        f'<section class="hero"><h1>{site_name(domain)}</h1>'
        f"<p>Information and e-services for citizens, businesses and public institutions.</p></section>\n"
        f'<section class="cards">\n{cards}</section>',
    )


DOCUMENTS = [
    ("circular-2026-14.pdf", "Circular 14/2026 on working hours", "application/pdf"),
    ("budget-draft-2027.pdf", "Draft state budget 2027", "application/pdf"),
    ("annual-report-2025.pdf", "Annual report 2025", "application/pdf"),
    (
        "leave-request-form.docx",
        "Leave request form",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ),
    (
        "procurement-plan-2026.xlsx",
        "Procurement plan 2026",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ),
    ("org-chart.pdf", "Organisation chart", "application/pdf"),
]


def docs_html(domain: str) -> str:
    rows = "".join(
        f'<tr><td><a href="/files/{f}">{t}</a></td><td>{f.rsplit(".", 1)[1].upper()}</td></tr>\n'
        for f, t, _ in DOCUMENTS
    )
    return page(
        domain,
        "Documents",
        f'<h1>Documents</h1>\n<table class="docs">\n<tr><th>Title</th><th>Format</th></tr>\n{rows}</table>',
    )


def upload_form_html(domain: str, field: str = "document", notice: str = "") -> str:
    return page(
        domain,
        "Submit a document",
        (
            "<h1>Submit a document</h1>\n"
            f"{notice}"
            "<p>Attach scanned supporting documents for your request (JPG, PNG or PDF, up to 5 MB).</p>\n"
            '<form action="/upload.php" method="post" enctype="multipart/form-data">\n'
            '<label>Reference number <input type="text" name="reference"></label>\n'
            f'<label>File <input type="file" name="{field}"></label>\n'
            '<button type="submit" name="submit" value="Upload">Upload</button>\n</form>'
        ),
    )


def login_html(domain: str, error: str = "") -> str:
    err = f'<div class="alert alert-danger">{error}</div>\n' if error else ""
    return page(
        domain,
        "Staff login",
        (
            f"<h1>Staff login</h1>\n{err}"
            '<form action="/login.php" method="post">\n'
            '<label>Username <input type="text" name="username" autocomplete="username"></label>\n'
            '<label>Password <input type="password" name="password" autocomplete="current-password"></label>\n'
            '<input type="hidden" name="return" value="/dashboard.php">\n'
            '<button type="submit">Log in</button>\n</form>'
        ),
    )


def search_html(domain: str, q: str, hits: list[int]) -> str:
    items = "".join(f'<li><a href="/news.php?id={i}">{ARTICLES[(i - 1) % len(ARTICLES)][0]}</a></li>\n' for i in hits)
    found = f'<ul class="results">\n{items}</ul>' if hits else "<p>No results.</p>"
    return page(
        domain,
        "Search",
        f"<h1>Search</h1>\n<p>Results for <strong>{htmlspecialchars(q)}</strong>: {len(hits)}</p>\n{found}",
    )


@dataclass
class Asset:
    path: str
    content_type: str
    body: bytes
    mtime: float
    kind: str  # css, js, img, font

    @property
    def etag(self) -> str:
        return f'"{int(self.mtime):x}-{len(self.body):x}"'


_CSS_RULE = ".{sel} {{ margin: {a}px {b}px; padding: {c}px; color: #{col:06x}; font-size: {fs}rem; }}\n"


def _css(r: random.Random, n: int) -> bytes:
    sels = [
        "site-header",
        "brand",
        "container",
        "card",
        "news",
        "meta",
        "alert",
        "docs",
        "results",
        "search",
        "site-footer",
        "hero",
        "btn",
        "btn-primary",
        "nav",
        "form-row",
        "table",
        "badge",
        "pager",
        "crumbs",
    ]
    out = ":root { --brand: #0b3d91; --accent: #c8102e; }\nbody { font-family: 'Open Sans', Arial, sans-serif; margin: 0; }\n"  # noqa: E501
    while len(out) < n:
        out += _CSS_RULE.format(
            sel=r.choice(sels) + r.choice(["", " a", " h1", " p", ":hover", " li"]),
            a=r.randint(0, 24),
            b=r.randint(0, 24),
            c=r.randint(0, 16),
            col=r.getrandbits(24),
            fs=r.choice(["0.875", "1", "1.125", "1.25", "1.5"]),
        )
    return out.encode()


def _js(r: random.Random, n: int, minified: bool) -> bytes:
    words = ["e", "t", "n", "r", "i", "o", "a", "s", "u", "l", "c", "f", "d", "p", "h"]
    if minified:
        out = "/*! jQuery v3.6.4 | (c) OpenJS Foundation and other contributors | jquery.org/license */\n"
        while len(out) < n:
            a, b, c = r.choice(words), r.choice(words), r.choice(words)
            out += f"function {a}{r.randint(0, 99)}({b},{c}){{return {b}&&{b}.nodeType===1?{c}.call({b},{r.randint(0, 9)}):void 0}}"  # noqa: E501
        return out.encode()
    out = "(function ($) {\n  'use strict';\n"
    while len(out) < n:
        out += (
            f"  $('.{r.choice(['card', 'alert', 'news', 'docs', 'search'])}').on('click', function (e) {{\n"
            f"    $(this).toggleClass('open');\n"
            f"    $.getJSON('/api/v1/notifications', {{ since: {r.randint(1700000000, 1790000000)} }});\n  }});\n"
        )
    return (out + "})(jQuery);\n").encode()


def _binary(r: random.Random, magic: bytes, n: int) -> bytes:
    return magic + r.randbytes(max(0, n - len(magic)))


def png(r: random.Random, n: int, width: int = 180, height: int = 48) -> bytes:
    """A well-formed PNG (chunks and CRCs right) of about ``n`` bytes; the pixels are noise."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")

    ihdr = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 6, 0, 0, 0])
    idat = zlib.compress(r.randbytes(max(16, n - 57)), 1)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def jpeg(r: random.Random, n: int) -> bytes:
    """A JPEG/JFIF file's structure (SOI, APP0, DQT, SOF0, DHT, SOS, scan, EOI) around noise."""

    def seg(marker: int, data: bytes) -> bytes:
        return bytes([0xFF, marker]) + (len(data) + 2).to_bytes(2, "big") + data

    head = (
        b"\xff\xd8"
        + seg(0xE0, b"JFIF\x00\x01\x01\x01\x00H\x00H\x00\x00")
        + seg(0xDB, b"\x00" + bytes(r.randint(2, 40) for _ in range(64)))
        + seg(0xC0, b"\x08\x04\xb0\x03\x20\x03\x01\x22\x00\x02\x11\x01\x03\x11\x01")
        + seg(0xC4, b"\x00" + bytes([0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0]) + bytes(range(12)))
        + seg(0xDA, b"\x03\x01\x00\x02\x11\x03\x11\x00\x3f\x00")
    )
    scan = r.randbytes(max(16, n - len(head) - 2)).replace(b"\xff", b"\xfe")
    return head + scan + b"\xff\xd9"


def assets(domain: str) -> dict[str, Asset]:
    """The portal's static files: the same bytes, ETags and dates for every visitor."""
    r = seeded("portal-assets", domain)
    base = 1788000000.0  # deployed autumn 2026
    return {
        a.path: a
        for a in [
            Asset("/assets/css/main.css?v=3.2.1", "text/css", _css(r, 18000), base + 3600, "css"),
            Asset("/assets/js/jquery-3.6.4.min.js", "application/javascript", _js(r, 89795, True), base - 9e6, "js"),
            Asset("/assets/js/app.js?v=3.2.1", "application/javascript", _js(r, 6400, False), base + 7200, "js"),
            Asset("/assets/img/logo.png", "image/png", png(r, 7311), base - 4e6, "img"),
            Asset(
                "/assets/fonts/opensans-regular.woff2",
                "font/woff2",
                _binary(r, b"wOF2\x00\x01\x00\x00", 21748),
                base - 4e6,
                "font",
            ),
            Asset(
                "/favicon.ico", "image/x-icon", _binary(r, b"\x00\x00\x01\x00\x01\x00\x10\x10", 1150), base - 4e6, "img"
            ),
        ]
    }


def document(domain: str, name: str) -> bytes:
    r = seeded("portal-doc", domain, name)
    if name.endswith(".pdf"):
        head = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n"
        return _binary(r, head, r.randint(24000, 90000)) + b"\n%%EOF\n"
    return _binary(r, b"PK\x03\x04\x14\x00\x06\x00\x08\x00", r.randint(14000, 40000))


def htmlspecialchars(text: str) -> str:
    """PHP 8's ``htmlspecialchars()`` (ENT_QUOTES | ENT_SUBSTITUTE | ENT_HTML401)."""
    return (
        text.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&quot;")
        .replace("'", "&#039;")
    )


def mariadb_syntax_error(near: str) -> str:
    return (
        "You have an error in your SQL syntax; check the manual that corresponds to your MariaDB server "
        f"version for the right syntax to use near '{near[:80]}' at line 1"
    )


def db_error_html(domain: str, message: str) -> str:
    """The portal's page when a query throws: the app prints mysqli's message (display of errors on)."""
    return page(
        domain,
        "Error",
        f'<div class="alert alert-danger"><strong>Database error:</strong> {htmlspecialchars(message)}</div>',
    )


def not_found_html(domain: str, what: str = "Article") -> str:
    return page(
        domain,
        "Not found",
        f"<h1>{what} not found</h1>\n<p>The {what.lower()} you requested does not exist "
        'or has been removed.</p>\n<p><a href="/news.php">&laquo; All news</a></p>',
    )

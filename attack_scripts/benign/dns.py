"""Everyday name resolution by the office's workstations and servers.

Mostly A and AAAA lookups of popular, regional and internal names, CNAME chains for CDNs, MX and
TXT lookups (SPF, DMARC, domain verification: a rule alerting on "any TXT query" fires here),
PTR lookups, and a trickle of NXDOMAIN answers from typos and stale names.
"""
from __future__ import annotations

from attack_scripts import _dns
from range.traffic import BenignContext, BenignKind, benign

POPULAR = ["www.google.com", "www.microsoft.com", "login.microsoftonline.com", "outlook.office365.com",
           "www.youtube.com", "update.microsoft.com", "ctldl.windowsupdate.com", "www.wikipedia.org",
           "github.com", "api.github.com", "www.mozilla.org", "detectportal.firefox.com", "ocsp.digicert.com",
           "www.facebook.com", "www.linkedin.com", "teams.microsoft.com", "zoom.us", "www.cloudflare.com",
           "europa.eu", "ec.europa.eu", "www.enisa.europa.eu", "www.bbc.com", "www.reuters.com",
           "akuk.gov.al", "www.gov.al", "www.rtsh.al", "www.gov.me", "www.vlada.gov.rs", "www.rks-gov.net",
           "vlada.mk", "www.vijeceministara.gov.ba", "www.debian.org", "www.openstreetmap.org", "www.python.org",
           "fonts.googleapis.com", "www.gstatic.com", "cdn.jsdelivr.net", "time.windows.com", "www.apple.com"]
CNAMES = {
    "www.microsoft.com": "www.microsoft.com-c-3.edgekey.net",
    "www.youtube.com": "youtube-ui.l.google.com",
    "outlook.office365.com": "outlook.ms-acdc.office.com",
    "www.linkedin.com": "www-linkedin-com.l-0005.l-msedge.net",
}
TXT_NAMES = [
    "{d}",
    "_dmarc.{d}",
    "_dmarc.gmail.com",
    "google.com",
    "microsoft.com",
    "_spf.google.com",
    "selector1._domainkey.{d}",
    "_mta-sts.{d}",
]
TYPOS = [
    "www.gooogle.com",
    "wpad.{d}",
    "isatap.{d}",
    "intranet-old.{d}",
    "printer3.{d}",
    "www.micosoft.com",
    "fileserver.{d}.local",
    "teams.micros0ft.com",
]
INTERNAL = ["intranet", "mail", "portal", "hr", "docs", "wiki", "fileserver", "print", "vpn", "helpdesk"]


def _addr(rng) -> str:
    return (
        f"{rng.choice([13, 20, 23, 40, 52, 104, 142, 151, 172, 185, 193, 195])}.{rng.randint(1, 254)}."
        f"{rng.randint(0, 255)}.{rng.randint(1, 254)}"
    )


@benign
class BenignDns(BenignKind):
    name = "dns"
    summary = "name lookups: A/AAAA/CNAME/MX/TXT/PTR, some NXDOMAIN"

    def generate(self, ctx: BenignContext):
        servers = ctx.servers("dns")
        if not servers:
            return
        r = ctx.rng
        dom = ctx.domain
        internal = {f"{n}.{dom}": None for n in INTERNAL}
        for host in ctx.layout.hosts.values():
            internal[f"{host.hostname}.{dom}"] = host.ip
        resolved: dict[str, str] = {}
        for t in ctx.times():
            client = r.choice(ctx.clients)
            server = r.choice(servers)
            roll = r.random()
            if roll < 0.55:
                name = r.choice(POPULAR)
                qtype = "A" if r.random() < 0.8 else "AAAA"
                if qtype == "A":
                    ip = resolved.setdefault(name, _addr(r))
                    ans = [(name, "A", ip, r.choice([60, 300, 3600]))]
                    if name in CNAMES:
                        ans = [(name, "CNAME", CNAMES[name], 300), (CNAMES[name], "A", ip, 20)]
                else:
                    ans = [(name, "AAAA", f"2a00:1450:4017:80{r.randint(0, 9)}::{r.randint(1, 0xFFFF):x}", 300)]
                yield _dns.lookup(r, t, client.ip, server.ip, name, qtype, ans)
            elif roll < 0.75:
                name = r.choice(list(internal))
                ip = internal[name] or resolved.setdefault(name, server.ip)
                yield _dns.lookup(
                    r,
                    t,
                    client.ip,
                    server.ip,
                    name,
                    "A",
                    [(name, "A", ip, 3600)],
                    aa=True,
                    latency=r.uniform(0.0002, 0.001),
                )
            elif roll < 0.85:
                name = r.choice(TXT_NAMES).format(d=dom)
                txt = r.choice(
                    [
                        "v=spf1 include:_spf.google.com ~all",
                        "v=DMARC1; p=quarantine; rua=mailto:dmarc@" + dom,
                        "google-site-verification=" + ctx.names.token(43),
                        "MS=ms" + str(r.randint(10**7, 10**8)),
                        "v=DKIM1; k=rsa; p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA" + ctx.names.token(60),
                    ]
                )
                yield _dns.lookup(r, t, client.ip, server.ip, name, "TXT", [(name, "TXT", [txt], 3600)])
            elif roll < 0.90:
                name = r.choice([dom, "gmail.com", "europa.eu"])
                yield _dns.lookup(r, t, client.ip, server.ip, name, "MX", [(name, "MX", (10, f"mail.{name}."), 3600)])
            elif roll < 0.95:
                target = r.choice(list(ctx.layout.hosts.values()))
                rev = ".".join(reversed(target.ip.split("."))) + ".in-addr.arpa"
                yield _dns.lookup(
                    r, t, client.ip, server.ip, rev, "PTR", [(rev, "PTR", f"{target.hostname}.{dom}.", 3600)]
                )
            else:
                name = r.choice(TYPOS).format(d=dom)
                yield _dns.lookup(r, t, client.ip, server.ip, name, "A", [], rcode="NXDOMAIN")

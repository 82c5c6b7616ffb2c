"""The live range: one isolated copy of an environment per team, on the local Docker Engine.

``up`` creates, per team, one internal Docker network per environment network (no route out of the
range, no address on the host side, a bridge named ``cr<hash>`` the sensor can capture on) and one
container per node with the addresses and MAC addresses of :func:`range.topology.layout`, its
services started and checked healthy. Every object carries the labels ``cyberrange.session``,
``cyberrange.team``, ``cyberrange.env`` (and ``cyberrange.node`` / ``cyberrange.network``), so
:mod:`range.runtime.inventory` (``status``, ``down``, ``netns_exec``, ``bridges``, ``layouts``, re-exported
here) finds everything from the labels alone, after a crash or from another process. The host
configures what containers may not (routes, secondary MACs) through their network namespaces:
nodes get no ``NET_ADMIN``, only the capabilities their services need.
"""
from __future__ import annotations

import ipaddress
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable, Mapping, Sequence

from docker.errors import DockerException
from docker.types import IPAMConfig, IPAMPool

from range.core import InputError, RuntimeFault, derive
from range.runtime import hostnet, netns
from range.runtime.engine import (
    LABEL_BRIDGE,
    LABEL_ENV,
    LABEL_ENV_PATH,
    LABEL_NETWORK,
    LABEL_NODE,
    LABEL_SEED,
    LABEL_SESSION,
    LABEL_SUBNET,
    LABEL_TEAM,
    host_lock,
)
from range.runtime.engine import client as docker_client
from range.runtime.images import build as build_images
from range.runtime.images import image_refs
from range.runtime.inventory import (  # noqa: F401
    bridges,
    container,
    down,
    layouts,
    netns_exec,
    netns_path,
    session_objects,
    status,
)
from range.runtime.probes import check
from range.topology import SERVICES, Environment, Layout, layout

NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,19}\Z")
ACCOUNT = re.compile(r"^[a-z_][a-z0-9_.-]{0,31}\Z")
LIVE_SERVICES = {"http", "ssh", "dns", "ftp", "telnet", "smtp", "ntp"}  # https: no TLS setup yet

# what each service's daemons need once Docker's default capabilities are all dropped
CAPS = {
    "ssh": {"CHOWN", "FOWNER", "SETUID", "SETGID", "NET_BIND_SERVICE", "SYS_CHROOT", "KILL", "AUDIT_WRITE"},
    "http": {"CHOWN", "SETUID", "SETGID", "NET_BIND_SERVICE"},
    "dns": {"SETUID", "SETGID", "NET_BIND_SERVICE"},
    "ftp": {"SETUID", "SETGID", "NET_BIND_SERVICE", "SYS_CHROOT"},
    "telnet": {"CHOWN", "FOWNER", "SETUID", "SETGID", "NET_BIND_SERVICE", "AUDIT_WRITE"},
    "smtp": {"CHOWN", "FOWNER", "SETUID", "SETGID", "NET_BIND_SERVICE", "KILL", "DAC_OVERRIDE"},
    "ntp": {"SETUID", "SETGID", "NET_BIND_SERVICE"},
}
ROLE_CAPS = {"attacker": {"NET_RAW"}, "workstation": {"NET_RAW"}}
ACCOUNT_CAPS = {"CHOWN", "FOWNER", "SETUID", "SETGID"}  # useradd/chpasswd for per-team accounts
LIMITS = {"mem_limit": "384m", "nano_cpus": 1_000_000_000, "pids_limit": 512}

Progress = Callable[[str], None]


def _quiet(_msg: str) -> None:
    pass


@dataclass
class Team:
    name: str
    layout: Layout
    networks: dict[str, str] = field(default_factory=dict)  # env network -> Docker network name
    bridges: dict[str, str] = field(default_factory=dict)  # env network -> host bridge interface
    containers: dict[str, str] = field(default_factory=dict)  # node -> container name


@dataclass
class Session:
    name: str
    env: Environment
    seed: int
    teams: dict[str, Team]
    seconds: float = 0.0


# ---- naming and addressing (pure) ------------------------------------------------------------

def object_name(session: str, team: str, what: str) -> str:
    return f"cr-{session}-{team}-{what}"


def bridge_name(session: str, team: str, network: str, salt: int = 0) -> str:
    """``cr`` + 6 hex digits: unique per (session, team, network), within Linux's 15 characters."""
    return f"cr{derive('bridge', session, team, network, salt) & 0xFFFFFF:06x}"


def allocate_subnets(env: Environment, teams: Sequence[str], seed: int,
                     taken: Sequence[ipaddress.IPv4Network] = ()) -> dict[str, dict[str, ipaddress.IPv4Network]]:
    """Each team's subnet in each network's pool: the one offline replay would draw from
    (seed, team) when it is free, else the next free one; distinct across teams and from ``taken``."""
    busy = list(taken)
    out: dict[str, dict[str, ipaddress.IPv4Network]] = {t: {} for t in teams}
    for net in env.spec.networks:
        count = 2 ** (net.team_prefix - net.subnet.prefixlen)
        size = 2 ** (32 - net.team_prefix)
        for team in teams:
            start = derive("subnet", seed, team, net.name) % count
            for k in range(count):
                cand = ipaddress.IPv4Network((int(net.subnet.network_address) + ((start + k) % count) * size,
                                              net.team_prefix))
                if not any(cand.overlaps(b) for b in busy):
                    break
            else:
                raise RuntimeFault(f"network {net.name}: no free /{net.team_prefix} left in {net.subnet} for team "
                                   f"{team} (Docker networks or host interfaces use them); free some or widen the pool")
            out[team][net.name] = cand
            busy.append(cand)
    return out


def _spare_address(lay: Layout, net: str) -> str:
    """An address of the team subnet no node uses: Docker's IPAM wants a gateway; nothing holds it."""
    sub = lay.subnets[net]
    used = {h.ips[net] for h in lay.hosts.values() if net in h.ips}
    for a in reversed(list(sub.hosts())):
        if str(a) not in used:
            return str(a)
    raise RuntimeFault(f"network {net}: subnet {sub} has no spare address for Docker's gateway bookkeeping")


ATTACKER_SYSCTLS = {"net.ipv4.ip_forward": "1", "net.ipv4.conf.all.send_redirects": "0",
                    "net.ipv4.conf.default.send_redirects": "0"}


def _routers(env: Environment) -> set[str]:
    return {n.gateway for n in env.spec.networks if n.gateway} | {n.name for n in env.spec.nodes if n.role == "router"}


def capabilities(env: Environment, node: str, with_accounts: bool = False) -> list[str]:
    spec = env.nodes[node]
    caps = set(ROLE_CAPS.get(spec.role, set()))
    for s in spec.services:
        caps |= CAPS.get(s, set())
    if with_accounts:
        caps |= ACCOUNT_CAPS
    return sorted(caps)


def dns_records(lay: Layout) -> list[str]:
    """``fqdn=address`` records a team's resolver answers: every host name and node name,
    ``www`` for the first web server, ``mail`` for the first mail server."""
    domain = lay.env.spec.domain
    recs: dict[str, list[str]] = {}
    for h in lay.hosts.values():
        for name in dict.fromkeys([h.hostname, h.name]):
            recs.setdefault(f"{name}.{domain}", []).extend(h.ips.values())
    for alias, svc in (("www", "http"), ("mail", "smtp")):
        nodes = lay.env.nodes_with(svc)
        if nodes and f"{alias}.{domain}" not in recs:
            recs[f"{alias}.{domain}"] = list(lay.hosts[nodes[0]].ips.values())
    return [f"{n}={ip}" for n, ips in recs.items() for ip in dict.fromkeys(ips)]


def _check_names(session: str, teams: Sequence[str]) -> None:
    if not NAME.match(session):
        raise InputError(f"session name {session!r}: use 1-20 lower-case letters, digits or '-'")
    if not teams:
        raise InputError("give at least one team")
    for t in teams:
        if not NAME.match(t):
            raise InputError(f"team name {t!r}: use 1-20 lower-case letters, digits or '-'")
    if len(set(teams)) != len(teams):
        raise InputError(f"team names repeat: {', '.join(teams)}")


def _check_users(users: Mapping[str, Sequence[tuple[str, str]]] | None, teams: Sequence[str]) -> None:
    for team, accounts in (users or {}).items():
        if team not in teams:
            raise InputError(f"accounts given for team {team!r}, which is not in this session")
        for login, password in accounts:
            if not ACCOUNT.match(login) or not password or any(ch.isspace() for ch in password):
                raise InputError(f"team {team}: account {login!r}: a login like 'jdoe' and a password without "
                                 "spaces, please")


# ---- up --------------------------------------------------------------------------------------

def up(env: Environment, session: str, teams: Sequence[str], seed: int = 1, *, progress: Progress = _quiet,
       timeout: float = 120.0, users: Mapping[str, Sequence[tuple[str, str]]] | None = None,
       client=None) -> Session:
    """Deploy one copy of ``env`` per team and wait until every service answers.

    ``users`` adds per-team local accounts (team -> [(login, password)]) on the nodes running
    ssh, ftp or telnet. On any failure everything this call created is removed again.
    """
    _check_names(session, teams)
    _check_users(users, teams)
    for n in env.spec.nodes:
        bad = [s for s in n.services if s not in LIVE_SERVICES]
        if bad:
            raise InputError(f"node {n.name}: service {', '.join(bad)} has no live implementation yet "
                             f"(live: {', '.join(sorted(LIVE_SERVICES))})", file=str(env.path))
    client = client or docker_client()
    _refuse_clash(client, session)  # early, before any image work; again under the lock below
    t0 = time.monotonic()
    refs = image_refs(env)
    build_images(env, progress=progress, client=client)
    cancel = threading.Event()
    created = False
    try:
        with host_lock("runtime"):  # one allocation at a time: concurrent ups get distinct subnets
            _refuse_clash(client, session)
            created = True
            subnets = allocate_subnets(env, teams, seed, _taken_subnets(client))
            sess = Session(session, env, seed, {t: Team(t, layout(env, t, seed, subnets=subnets[t])) for t in teams})
            with ThreadPoolExecutor(max_workers=8) as pool:
                _each(pool, cancel, lambda t: _create_networks(client, sess, t), sess.teams.values())
        progress(f"networks created ({time.monotonic() - t0:.1f}s)")
        jobs = [(t, node) for t in sess.teams.values() for node in env.nodes]
        with ThreadPoolExecutor(max_workers=8) as pool:
            # teams in parallel, one team's nodes one after the other: Docker 20.10's per-network
            # endpoint counter can go wrong under concurrent joins and leaves on one network
            _each(pool, cancel, lambda t: [_create_node(client, sess, t, node, refs[node], users)
                                           for node in env.nodes if not cancel.is_set()], sess.teams.values())
            progress(f"{len(jobs)} containers started ({time.monotonic() - t0:.1f}s)")
            _each(pool, cancel, lambda t: _configure_team(client, sess, t), sess.teams.values())
            deadline = time.monotonic() + timeout
            _each(pool, cancel, lambda j: _wait_healthy(client, sess, j[0], j[1], deadline, cancel), jobs)
        progress(f"all services healthy ({time.monotonic() - t0:.1f}s)")
    except BaseException as e:
        cancel.set()
        if created:
            progress(f"up failed: removing what session {session} created")
            down(session, client=client)
        if isinstance(e, DockerException):
            raise RuntimeFault(f"Docker refused while starting session {session}: {str(e)[:500]}") from None
        raise
    sess.seconds = time.monotonic() - t0
    return sess


def _refuse_clash(client, session: str) -> None:
    containers, networks = session_objects(client, session)
    if containers or networks:
        raise RuntimeFault(f"session {session!r} already exists ({len(containers)} containers, {len(networks)} "
                           f"networks); run 'cyberrange down {session}' first or choose another name")


def _each(pool: ThreadPoolExecutor, cancel: threading.Event, fn, items) -> None:
    """Run ``fn`` over ``items`` in ``pool``; on the first failure tell the others to stop, then raise it."""
    futures = [pool.submit(fn, i) for i in items]
    try:
        for f in futures:
            f.result()
    except BaseException:
        cancel.set()
        for f in futures:
            f.cancel()
        raise


def _labels(sess: Session, team: str, **extra: str) -> dict[str, str]:
    return {LABEL_SESSION: sess.name, LABEL_TEAM: team, LABEL_ENV: sess.env.name, LABEL_SEED: str(sess.seed),
            LABEL_ENV_PATH: str(sess.env.path.resolve()), **extra}


def _taken_subnets(client) -> list[ipaddress.IPv4Network]:
    out = hostnet.host_subnets()
    for n in client.networks.list():
        for cfg in (n.attrs.get("IPAM") or {}).get("Config") or []:
            try:
                net = ipaddress.ip_network(cfg.get("Subnet", ""), strict=False)
            except ValueError:
                continue
            if net.version == 4:
                out.append(net)
    return out


def _create_networks(client, sess: Session, team: Team) -> None:
    for net in sess.env.spec.networks:
        sub = team.layout.subnets[net.name]
        salt = 0
        while hostnet.interface_exists(br := bridge_name(sess.name, team.name, net.name, salt)):
            salt += 1
        name = object_name(sess.name, team.name, net.name)
        ipam = IPAMConfig(pool_configs=[IPAMPool(subnet=str(sub), gateway=_spare_address(team.layout, net.name))])
        client.networks.create(
            name, driver="bridge", internal=True, check_duplicate=True, ipam=ipam,
            options={"com.docker.network.bridge.name": br, "com.docker.network.bridge.inhibit_ipv4": "true",
                     "com.docker.network.bridge.enable_ip_masquerade": "false"},
            labels=_labels(sess, team.name, **{LABEL_NETWORK: net.name, LABEL_SUBNET: str(sub), LABEL_BRIDGE: br}))
        team.networks[net.name], team.bridges[net.name] = name, br
        hostnet.seal_bridge(br, sess.name)


def _create_node(client, sess: Session, team: Team, node: str, image: str,
                 users: Mapping[str, Sequence[tuple[str, str]]] | None) -> None:
    spec = sess.env.nodes[node]
    host = team.layout.hosts[node]
    logins = bool({"ssh", "ftp", "telnet"} & set(spec.services))
    accounts = [f"{u}:{p}" for u, p in (users or {}).get(team.name, [])] if logins else []
    env = {"CR_SERVICES": " ".join(spec.services), "CR_DOMAIN": sess.env.spec.domain, "CR_HOSTNAME": host.hostname,
           "CR_ROLE": spec.role}
    if accounts:
        env["CR_USERS"] = " ".join(accounts)
    if "dns" in spec.services:
        env["CR_DNS"] = " ".join(dns_records(team.layout))
        mail = sess.env.nodes_with("smtp")
        if mail:
            env["CR_DNS_MX"] = f"{team.layout.hosts[mail[0]].hostname}.{sess.env.spec.domain}"
    first, *others = spec.networks
    sysctls = {"net.ipv4.ip_forward": "1"} if node in _routers(sess.env) else {}
    if spec.role == "attacker":  # as arpspoof's users do: a poisoned victim's traffic is relayed, not dropped,
        # and the relay sends no ICMP redirect that would give it away
        sysctls = {**sysctls, **ATTACKER_SYSCTLS}
    name = object_name(sess.name, team.name, node)
    c = client.containers.create(
        image, name=name, hostname=host.hostname, domainname=sess.env.spec.domain, environment=env,
        labels=_labels(sess, team.name, **{LABEL_NODE: node}), init=True,
        cap_drop=["ALL"], cap_add=capabilities(sess.env, node, logins) or None,
        security_opt=["no-new-privileges"], sysctls=sysctls or None, **LIMITS,
        mac_address=host.macs[first.network], network=team.networks[first.network],
        networking_config={team.networks[first.network]: client.api.create_endpoint_config(
            ipv4_address=host.ips[first.network])})
    for a in others:
        client.api.connect_container_to_network(c.id, team.networks[a.network], ipv4_address=host.ips[a.network])
    c.start()
    team.containers[node] = name


def _configure_team(client, sess: Session, team: Team) -> None:
    """Routes, secondary MACs and the resolver, set from the host in each node's namespace."""
    for node, cname in team.containers.items():
        c = client.containers.get(cname)
        try:
            _configure_node(sess, team, node, c)
        except (RuntimeFault, OSError) as e:
            c.reload()
            if c.status != "running":
                raise _died(team, node, c, sess) from None
            raise RuntimeFault(f"team {team.name}: node {node}: {e}") from None


def _died(team: Team, node: str, c, sess: Session) -> RuntimeFault:
    svcs = sess.env.nodes[node].services
    code = c.attrs.get("State", {}).get("ExitCode")
    what = f"before its services ({', '.join(svcs)}) became healthy" if svcs else "right after start"
    return RuntimeFault(f"team {team.name}: node {node} exited (code {code}) {what}: {_logs(c)}")


def _sysctl(pid: int, key: str, value: str) -> None:
    """Set a network sysctl in ``pid``'s network namespace (/proc/sys/net follows the writer's)."""
    out = netns.exec_in(pid, ["sysctl", "-qw", f"{key}={value}"], capture_output=True, text=True, timeout=30)
    if out.returncode != 0:
        raise RuntimeFault(f"sysctl {key}={value}: {(out.stderr or out.stdout).strip()}")


def _configure_node(sess: Session, team: Team, node: str, c) -> None:
    env = sess.env
    pid = c.attrs["State"]["Pid"]
    if not pid:
        raise RuntimeFault("not running")
    host = team.layout.hosts[node]
    ifaces = netns.interfaces(pid)
    for net, ip in host.ips.items():
        if ip not in ifaces:
            raise RuntimeFault(f"no interface with {ip} on {net}")
        dev, mac = ifaces[ip]
        if mac.lower() != host.macs[net].lower():  # Docker API 1.41 sets one MAC, at create
            netns.ip(pid, "link", "set", "dev", dev, "address", host.macs[net])
        if env.nodes[node].role == "attacker":  # 'all' is OR-ed with each interface's own setting
            _sysctl(pid, f"net.ipv4.conf.{dev}.send_redirects", "0")
    netns.ip(pid, "route", "flush", "exact", "0.0.0.0/0")  # no route out of the range...
    if node not in _routers(env):  # ...except through the network's router, inside the range
        for a in env.nodes[node].networks:
            gw = env.networks[a.network].gateway
            if gw and gw in team.layout.hosts:
                netns.ip(pid, "route", "add", "default", "via", team.layout.hosts[gw].ips[a.network])
                break
    # the team's own resolver, or none at all: never Docker's embedded one (a path through dockerd)
    dns_nodes = env.nodes_with("dns")
    text = f"search {env.spec.domain}\n"
    if dns_nodes:
        d = team.layout.hosts[dns_nodes[0]]
        text += f"nameserver {d.ips.get(next(iter(host.ips)), d.ip)}\n"
    with open(c.attrs["ResolvConfPath"], "w") as f:  # in place: the file is bind-mounted
        f.write(text)


def _wait_healthy(client, sess: Session, team: Team, node: str, deadline: float, cancel: threading.Event) -> None:
    host = team.layout.hosts[node]
    c = client.containers.get(team.containers[node])
    c.reload()
    if c.status != "running":
        raise _died(team, node, c, sess)
    for svc in sess.env.nodes[node].services:
        last = "no answer yet"
        while not cancel.is_set():
            c.reload()
            if c.status != "running":
                raise _died(team, node, c, sess)
            try:
                last = _probe(c.attrs["State"]["Pid"], svc, host, sess.env, 2.0) or ""
            except RuntimeFault as e:  # the node went away under the probe: the next reload says so
                last = str(e)
                continue
            if not last:
                break
            if time.monotonic() > deadline:
                raise RuntimeFault(f"team {team.name}: node {node} service {svc} did not become healthy within the "
                                   f"timeout ({last}); last log lines: {_logs(c)}")
            time.sleep(0.2)


def _probe(pid: int, svc: str, host, env: Environment, timeout: float) -> str | None:
    ctx = {"port": SERVICES[svc].port, "host": f"{host.hostname}.{env.spec.domain}",
           "name": f"{host.hostname}.{env.spec.domain}", "expect": host.ip}
    return netns.call_in(pid, check, svc, host.ip, timeout, ctx)


def _logs(c, lines: int = 6) -> str:
    try:
        text = c.logs(tail=lines).decode(errors="replace").strip()
    except Exception:  # the container may be gone already
        return "(no logs)"
    return " | ".join(text.splitlines()[-lines:]) or "(no output)"


def reset_team(session: str, team: str, *, timeout: float = 120.0, progress: Progress = _quiet, client=None) -> float:
    """Give one team a fresh copy of its network: every node recreated from its image, configured
    and checked healthy again; networks, addresses and the other teams are untouched."""
    client = client or docker_client()
    lays = layouts(session, client=client)
    if team not in lays:
        raise RuntimeFault(f"session {session} has no team {team!r}")
    t0 = time.monotonic()
    lay = lays[team]
    env = lay.env
    containers, networks = session_objects(client, session)
    t = Team(team, lay)
    for n in networks:
        lb = n.attrs.get("Labels") or {}
        if lb.get(LABEL_TEAM) == team:
            t.networks[lb[LABEL_NETWORK]], t.bridges[lb[LABEL_NETWORK]] = n.name, lb.get(LABEL_BRIDGE)
    sess = Session(session, env, int((containers[0].labels if containers else {}).get(LABEL_SEED, 1)), {team: t})
    for c in containers:
        if c.labels.get(LABEL_TEAM) == team:
            c.remove(force=True)
    refs = image_refs(env)
    for node in env.nodes:
        _create_node(client, sess, t, node, refs[node], None)
    progress(f"team {team}: {len(env.nodes)} nodes recreated")
    _configure_team(client, sess, t)
    deadline = time.monotonic() + timeout
    cancel = threading.Event()
    for node in env.nodes:
        _wait_healthy(client, sess, t, node, deadline, cancel)
    return time.monotonic() - t0

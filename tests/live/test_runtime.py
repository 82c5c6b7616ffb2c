"""The live range on the real Docker Engine: images built offline, per-team copies, isolation, lifecycle.

Nothing is mocked: images come from mmdebstrap + docker import (cached by content hash, so only the
first run pays for building), containers run the real daemons, and probes speak to them from
inside the containers' network namespaces. A Docker Engine that cannot be reached fails the tests.
"""
from __future__ import annotations

import ftplib
import glob
import http.client
import json
import os
import socket
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from range.core import RuntimeFault
from range.runtime import bridges, down, layouts, netns_exec, netns_path, status, up
from range.runtime.engine import LABEL_SESSION
from range.runtime.images import build, recipes
from range.runtime.netns import call_in
from range.runtime.probes import resolve
from range.scenario import catalog
from range.topology import load_environment

ROOT = Path(__file__).resolve().parents[2]
SESSION = f"pyt{os.getpid()}"
EXTRA_USER = ("jdoe", "Summer2024!")


@pytest.fixture(scope="module")
def live(docker, office, office_images):
    """gov-office for two teams; team a gets one extra account."""
    down(SESSION, client=docker)
    s = up(office, SESSION, ["a", "b"], seed=5, users={"a": [EXTRA_USER]}, client=docker)
    yield s
    down(SESSION, client=docker)


def _pid(session: str, team: str, node: str) -> int:
    return int(netns_path(session, team, node).split("/")[2])


def _tcp(ip: str, port: int, timeout: float = 2.0) -> str:
    try:
        with socket.create_connection((ip, port), timeout=timeout) as s:
            s.settimeout(timeout)
            try:
                return "open:" + s.recv(64).decode(errors="replace")
            except socket.timeout:
                return "open:"
    except OSError as e:
        return f"closed:{type(e).__name__}"


def _http(ip: str, path: str) -> tuple[int, str, dict]:
    c = http.client.HTTPConnection(ip, 80, timeout=5)
    c.request("GET", path, headers={"Host": "portal"})
    r = c.getresponse()
    return r.status, r.read().decode(errors="replace"), dict(r.getheaders())


# ---- images ---------------------------------------------------------------------------------

def test_second_build_is_a_no_op(docker, office, office_images):
    said: list[str] = []
    again = build(office, progress=said.append, client=docker)
    assert again == office_images
    assert said and all("is up to date" in m for m in said), said
    for tag in again.values():
        assert docker.images.get(tag).labels.get("cyberrange.recipe")


def test_a_package_that_does_not_exist_is_named_and_leaves_nothing(docker, tmp_path):
    env_file = tmp_path / "environment.yaml"
    env_file.write_text(yaml.safe_dump({
        "kind": "environment", "name": "badpkg", "description": "a typo in a package name",
        "networks": [{"name": "lan", "subnet": "10.77.0.0/16"}],
        "nodes": [{"name": "box", "role": "server", "image": "broken", "networks": [{"network": "lan"}]}],
        "attacker": "box", "sensor": {"networks": ["lan"]}, "benign": {"clients": ["box"]},
        "images": {"broken": {"packages": ["curl", "no-such-package-cyberrange"]}}}))
    env = load_environment(env_file)
    before = set(glob.glob("/dev/shm/cyberrange-build-*")) | set(glob.glob("/tmp/cyberrange-build-*"))
    with pytest.raises(RuntimeFault) as e:
        build(env, progress=lambda m: None, client=docker)
    assert "no-such-package-cyberrange" in str(e.value)
    assert "not found" in str(e.value)
    assert docker.images.list(name="cyberrange/broken") == []
    after = set(glob.glob("/dev/shm/cyberrange-build-*")) | set(glob.glob("/tmp/cyberrange-build-*"))
    assert after <= before


# ---- a live session --------------------------------------------------------------------------

def test_every_service_is_healthy(live):
    [s] = status(SESSION)
    assert set(s["teams"]) == {"a", "b"}
    for team in s["teams"].values():
        assert set(team["nodes"]) == set(live.env.nodes)
        for node, info in team["nodes"].items():
            assert info["state"] == "running", node
            assert info["health"] == {svc: "ok" for svc in live.env.nodes[node].services}, (node, info["health"])


def test_addresses_and_macs_are_the_layouts(live):
    for tname, team in live.teams.items():
        for node, host in team.layout.hosts.items():
            out = netns_exec(SESSION, tname, node, ["ip", "-o", "link", "show", "eth0"], capture_output=True, text=True)
            assert host.macs[next(iter(host.macs))] in out.stdout
            addr = netns_exec(SESSION, tname, node, ["ip", "-o", "-4", "addr"], capture_output=True, text=True).stdout
            assert all(ip in addr for ip in host.ips.values())
    # a restarted orchestrator finds the same layouts from the labels alone
    again = layouts(SESSION)
    for tname, team in live.teams.items():
        assert {n: h.ips for n, h in again[tname].hosts.items()} == {n: h.ips for n, h in team.layout.hosts.items()}


def test_the_attacker_reaches_its_teams_services(live):
    lay = live.teams["a"].layout
    web, dns, files, mail = (lay.hosts[n].ip for n in ("web", "dns", "files", "mail"))
    pid = _pid(SESSION, "a", "attacker")
    status_code, body, headers = call_in(pid, _http, web, "/index.php")
    assert status_code == 200 and "Ministry Portal" in body and headers["Server"].startswith("nginx/")
    status_code, body, _ = call_in(pid, _http, web, "/news.php?id=2")
    assert status_code == 200 and "New e-services" in body
    status_code, body, _ = call_in(pid, _http, web, "/news.php?id=2'")  # the injectable query
    assert status_code == 500 and "Database error" in body
    status_code, body, _ = call_in(pid, _http, web, "/news.php?id=-1%20UNION%20SELECT%201,username,password,4%20FROM%20users")  # noqa: E501
    assert status_code == 200 and "admin" in body
    domain = live.env.spec.domain
    assert call_in(pid, resolve, dns, f"portal.{domain}") == (0, [web])
    assert call_in(pid, resolve, dns, "www.example.com")[0] == 3  # NXDOMAIN, no upstream
    assert call_in(pid, _tcp, files, 21).startswith("open:220 (vsFTPd")
    assert call_in(pid, _tcp, files, 22).startswith("open:SSH-2.0-OpenSSH")
    assert call_in(pid, _tcp, web, 22).startswith("open:SSH-2.0-OpenSSH")
    assert call_in(pid, _tcp, mail, 25).startswith("open:220 ")
    assert call_in(pid, _tcp, files, 23).startswith("open:")

    assert "documents" in call_in(pid, _ftp_as(live, "a"), "admin", "admin123")
    assert call_in(pid, _ftp_as(live, "a"), *EXTRA_USER) == []  # the per-team account (team a only), empty home
    with pytest.raises(ftplib.error_perm):
        call_in(_pid(SESSION, "b", "attacker"), _ftp_as(live, "b"), *EXTRA_USER)


def _ftp_as(live, team):
    files = live.teams[team].layout.hosts["files"].ip

    def login(user, password):
        f = ftplib.FTP(files, timeout=5)
        try:
            f.login(user, password)
            return f.nlst()
        finally:
            f.close()

    return login


def test_nodes_resolve_names_through_the_teams_resolver(live, docker):
    ws1 = docker.containers.get(live.teams["a"].containers["ws1"])
    code, out = ws1.exec_run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "http://portal/index.php"])
    assert (code, out) == (0, b"200")
    code, out = ws1.exec_run(["dig", "+short", f"files.{live.env.spec.domain}"])
    assert out.decode().strip() == live.teams["a"].layout.hosts["files"].ip


def test_teams_are_isolated_from_each_other_and_from_the_host(live):
    a, b = live.teams["a"].layout, live.teams["b"].layout
    pid_a, pid_b = _pid(SESSION, "a", "attacker"), _pid(SESSION, "b", "attacker")
    assert call_in(pid_a, _tcp, a.hosts["web"].ip, 80).startswith("open")
    assert call_in(pid_a, _tcp, b.hosts["web"].ip, 80, 1.5).startswith("closed")
    assert call_in(pid_b, _tcp, a.hosts["files"].ip, 21, 1.5).startswith("closed")
    assert call_in(pid_a, _tcp, "192.0.2.1", 80, 1.5).startswith("closed")
    # a service on the host, listening on every address: the host reaches it, the range must not
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("0.0.0.0", 0))
    srv.listen(16)
    port = srv.getsockname()[1]
    try:
        host_ips = _host_addresses()
        assert host_ips
        assert _tcp("127.0.0.1", port).startswith("open")
        for ip in host_ips:
            assert call_in(pid_a, _tcp, ip, port, 1.5).startswith("closed"), f"the range reached the host at {ip}"
    finally:
        srv.close()
    br = bridges(SESSION)
    assert set(br) == {"a", "b"} and br["a"]["office"] != br["b"]["office"]
    for team in br.values():
        for bridge in team.values():
            assert len(bridge) <= 15 and Path("/sys/class/net", bridge).exists()
            addr = subprocess.run(["ip", "-o", "addr", "show", "dev", bridge], capture_output=True, text=True).stdout
            assert " inet" not in addr, f"the host has an address on {bridge}: {addr}"


CAP_NAMES = [
    "CHOWN",
    "DAC_OVERRIDE",
    "DAC_READ_SEARCH",
    "FOWNER",
    "FSETID",
    "KILL",
    "SETGID",
    "SETUID",
    "SETPCAP",
    "LINUX_IMMUTABLE",
    "NET_BIND_SERVICE",
    "NET_BROADCAST",
    "NET_ADMIN",
    "NET_RAW",
    "IPC_LOCK",
    "IPC_OWNER",
    "SYS_MODULE",
    "SYS_RAWIO",
    "SYS_CHROOT",
    "SYS_PTRACE",
    "SYS_PACCT",
    "SYS_ADMIN",
    "SYS_BOOT",
    "SYS_NICE",
    "SYS_RESOURCE",
    "SYS_TIME",
    "SYS_TTY_CONFIG",
    "MKNOD",
    "LEASE",
    "AUDIT_WRITE",
    "AUDIT_CONTROL",
    "SETFCAP",
    "MAC_OVERRIDE",
    "MAC_ADMIN",
    "SYSLOG",
    "WAKE_ALARM",
    "BLOCK_SUSPEND",
    "AUDIT_READ",
    "PERFMON",
    "BPF",
    "CHECKPOINT_RESTORE",
]


def _caps(mask: str) -> set[str]:
    bits = int(mask, 16)
    return {name for i, name in enumerate(CAP_NAMES) if bits >> i & 1} | ({"?"} if bits >> len(CAP_NAMES) else set())


def test_nodes_run_with_least_privilege_and_limits(live, docker):
    """What Docker was asked for (HostConfig) and what the kernel enforces on each node's processes."""
    from range.runtime.lifecycle import ATTACKER_SYSCTLS, LIMITS, capabilities

    containers = docker.containers.list(filters={"label": f"{LABEL_SESSION}={SESSION}"})
    assert len(containers) == 2 * len(live.env.nodes)
    for c in containers:
        node, hc = c.labels["cyberrange.node"], c.attrs["HostConfig"]
        logins = bool({"ssh", "ftp", "telnet"} & set(live.env.nodes[node].services))
        allowed = set(capabilities(live.env, node, logins))
        assert not hc["Privileged"] and hc["CapDrop"] == ["ALL"], node
        assert {x.removeprefix("CAP_") for x in hc["CapAdd"] or []} == allowed, node
        assert "no-new-privileges" in (hc["SecurityOpt"] or []), node
        assert (hc["Memory"], hc["NanoCpus"], hc["PidsLimit"]) == (
            384 * 2**20,
            LIMITS["nano_cpus"],
            LIMITS["pids_limit"],
        )
        assert (
            hc["NetworkMode"] not in ("host", "bridge", "default")
            and hc["PidMode"] != "host"
            and hc["IpcMode"] != "host"
        )
        assert not hc["Binds"] and not hc["PortBindings"] and not hc["PublishAllPorts"] and not hc["Devices"], node
        assert not any("docker" in (m.get("Source") or "") for m in c.attrs["Mounts"]), (node, c.attrs["Mounts"])
        # only the intruder forwards (a man in the middle relays what it intercepts); gov-office has no router
        want = ATTACKER_SYSCTLS if live.env.nodes[node].role == "attacker" else None
        assert (hc.get("Sysctls") or None) == want, (node, hc.get("Sysctls"))
        if want:  # and no interface of it sends ICMP redirects that would give the relay away
            out = netns_exec_pid(
                c.attrs["State"]["Pid"],
                ["sh", "-c", "cd /proc/sys/net/ipv4/conf && for d in *; do [ $d = lo ] || cat $d/send_redirects; done"],
            )
            assert set(out.stdout.split()) == {"0"}, (node, out.stdout)
        # the kernel's view of the node's processes: bounding set, effective set, no new privileges
        pid = c.attrs["State"]["Pid"]
        for p in [pid, *map(int, Path(f"/proc/{pid}/task/{pid}/children").read_text().split())]:
            st = dict(
                line.split(":\t", 1) for line in Path(f"/proc/{p}/status").read_text().splitlines() if ":\t" in line
            )
            assert _caps(st["CapBnd"].strip()) <= allowed and _caps(st["CapEff"].strip()) <= allowed, (node, p)
            assert st["NoNewPrivs"].strip() == "1", (node, p)
        code, out = c.exec_run(
            [
                "sh",
                "-c",
                "ls -l /var/run/docker.sock /run/docker.sock 2>&1; "
                "cat /sys/fs/cgroup/pids/pids.max /sys/fs/cgroup/pids.max 2>/dev/null; "
                "cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/memory.max 2>/dev/null",
            ]
        )
        text = out.decode()
        assert "No such file" in text and "docker.sock ->" not in text and "srw" not in text, (node, text)
        assert "512" in text.split() and str(384 * 2**20) in text.split(), (node, text)
    for n in docker.networks.list(filters={"label": f"{LABEL_SESSION}={SESSION}"}):
        assert n.attrs["Internal"] is True, n.name


def _routes_nowhere(pid: int, ip: str) -> bool:
    out = netns_exec_pid(pid, ["ip", "route", "get", ip])
    return out.returncode != 0 and "unreachable" in out.stderr.lower()


def netns_exec_pid(pid: int, argv: list[str]):
    from range.runtime.netns import exec_in

    return exec_in(pid, argv, capture_output=True, text=True, timeout=30)


def test_no_node_reaches_another_team_the_host_or_the_outside(live, tmp_path):
    """From every node that runs traffic (the attacker and the clients) of team a: team b's nodes,
    the exercise web app listening on every host address, and the world are all out of reach."""
    a, b = live.teams["a"].layout, live.teams["b"].layout
    port = _free_port()
    env = dict(os.environ, CYBERRANGE_STATE=str(tmp_path / "state"), CYBERRANGE_INSTRUCTOR_PASSWORD="isolation-test")
    web = subprocess.Popen(
        [str(ROOT / ".venv/bin/cyberrange"), "serve", "--host", "0.0.0.0", "--port", str(port), "--threads", "8"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        for _ in range(300):
            if _tcp("127.0.0.1", port, 0.5).startswith("open"):
                break
            assert web.poll() is None, "cyberrange serve exited"
            time.sleep(0.2)
        host_ips = _host_addresses()
        assert host_ips and all(_tcp(ip, port).startswith("open") for ip in host_ips)  # the host reaches it...
        import docker as sdk  # the gateway address Docker's IPAM noted: nothing holds it, the host neither

        gateways = [
            c["Gateway"]
            for n in sdk.from_env().networks.list(filters={"label": f"{LABEL_SESSION}={SESSION}"})
            for c in n.attrs["IPAM"]["Config"]
        ]
        assert gateways and not set(gateways) & set(host_ips)
        for node in ("attacker", *live.env.spec.benign.clients):
            pid = _pid(SESSION, "a", node)
            for ip in host_ips + gateways:  # ...no node does
                assert call_in(pid, _tcp, ip, port, 1.5).startswith("closed"), f"{node} reached the web app at {ip}"
            for other, h in b.hosts.items():
                for p in (22, 23, 25, 53, 80):
                    assert call_in(pid, _tcp, h.ip, p, 1.5).startswith("closed"), f"a/{node} reached b/{other}:{p}"
                assert _routes_nowhere(pid, h.ip), f"a/{node} has a route to b/{other}"
                assert call_in(pid, _ping, h.ip) != "reply", f"a/{node} pinged b/{other}"
            for ip in ("192.0.2.1", "198.51.100.53", "172.17.0.1"):
                assert _routes_nowhere(pid, ip) and call_in(pid, _tcp, ip, 443, 1.5).startswith("closed"), (node, ip)
            assert call_in(pid, _udp_dns, "198.51.100.53") == "no answer", node
            # the probes do work: the node's own team answers them
            assert call_in(pid, _tcp, a.hosts["web"].ip, 80).startswith("open")
            assert call_in(pid, _ping, a.hosts["web"].ip) == "reply"
            assert call_in(pid, _udp_dns, a.hosts["dns"].ip) == "answered"
    finally:
        os.killpg(web.pid, 9)
        web.wait()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ping(ip: str) -> str:
    from range.traffic import wire

    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    s.settimeout(1.5)
    try:
        s.sendto(wire.icmp_echo(8, 0x4242, 1, b"isolation"), (ip, 0))
        while True:
            pkt, (src, _) = s.recvfrom(2048)
            if src == ip and pkt[(pkt[0] & 0x0F) * 4] == 0:
                return "reply"
    except OSError as e:
        return f"no reply: {e}"
    finally:
        s.close()


def _udp_dns(server: str) -> str:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(1.5)
    try:
        s.sendto(bytes.fromhex("abcd01000001000000000000076578616d706c6503636f6d0000010001"), (server, 53))
        s.recv(512)
        return "answered"
    except OSError:
        return "no answer"
    finally:
        s.close()


def _host_addresses() -> list[str]:
    out = subprocess.run(["ip", "-o", "-4", "addr", "show"], capture_output=True, text=True).stdout
    return [line.split()[3].split("/")[0] for line in out.splitlines() if " lo " not in line]


def test_a_clashing_session_name_is_refused(live, docker, office):
    with pytest.raises(RuntimeFault, match="already exists"):
        up(office, SESSION, ["c"], client=docker)
    [s] = status(SESSION, health=False)
    assert set(s["teams"]) == {"a", "b"}
    assert all(n["state"] == "running" for t in s["teams"].values() for n in t["nodes"].values())


def test_status_is_found_again_by_a_fresh_process(live):
    r = subprocess.run(
        [str(ROOT / ".venv/bin/cyberrange"), "status", SESSION, "--json"], capture_output=True, text=True, timeout=120
    )
    assert r.returncode == 0, r.stderr
    [s] = json.loads(r.stdout)
    assert s["env"] == "gov-office" and s["seed"] == 5
    assert s["teams"]["a"]["nodes"]["web"]["health"] == {"http": "ok", "ssh": "ok"}
    assert s["teams"]["b"]["networks"]["office"]["bridge"].startswith("cr")


# ---- failure, teardown, routing ----------------------------------------------------------------


def _write_env(tmp_path: Path, data: dict) -> Path:
    p = tmp_path / "environment.yaml"
    p.write_text(yaml.safe_dump(data))
    return p


def test_resetting_a_team_gives_it_fresh_nodes_and_leaves_the_others(live, docker):
    from range.runtime import reset_team

    def ids(team):
        return {
            c.labels["cyberrange.node"]: c.id
            for c in docker.containers.list(
                all=True, filters={"label": [f"{LABEL_SESSION}={SESSION}", f"cyberrange.team={team}"]}
            )
        }

    web_b = docker.containers.get(f"cr-{SESSION}-b-web")
    assert web_b.exec_run(["sh", "-c", "echo defaced > /tmp/marker"]).exit_code == 0
    before_a, before_b = ids("a"), ids("b")
    reset_team(SESSION, "b")
    after_a, after_b = ids("a"), ids("b")
    assert after_a == before_a
    assert set(after_b) == set(before_b) and not set(after_b.values()) & set(before_b.values())
    assert docker.containers.get(f"cr-{SESSION}-b-web").exec_run(["test", "-e", "/tmp/marker"]).exit_code != 0
    [s] = status(SESSION)
    assert s["teams"]["b"]["nodes"]["web"]["health"] == {"http": "ok", "ssh": "ok"}
    assert s["teams"]["b"]["nodes"]["files"]["health"]["ftp"] == "ok"


def test_a_service_that_never_comes_up_fails_clearly_and_cleans_up(docker, office, office_images, tmp_path):
    dns_tag = recipes(office)["dns"].tag  # runs as is (a name:tag reference), but has no web server
    env = load_environment(
        _write_env(
            tmp_path,
            {
                "kind": "environment",
                "name": "broken",
                "description": "a web node without a web server",
                "domain": "broken.example",
                "networks": [{"name": "lan", "subnet": "10.78.0.0/16"}],
                "nodes": [
                    {
                        "name": "portal",
                        "role": "server",
                        "image": dns_tag,
                        "services": ["http"],
                        "networks": [{"network": "lan"}],
                    },
                    {"name": "intruder", "role": "attacker", "image": dns_tag, "networks": [{"network": "lan"}]},
                ],
                "attacker": "intruder",
                "sensor": {"networks": ["lan"]},
                "benign": {"clients": ["intruder"]},
            },
        )
    )
    session = f"{SESSION}-f"
    with pytest.raises(RuntimeFault) as e:
        up(env, session, ["a"], timeout=20, client=docker)
    assert "portal" in str(e.value) and "http" in str(e.value)
    assert docker.containers.list(all=True, filters={"label": f"{LABEL_SESSION}={session}"}) == []
    assert docker.networks.list(filters={"label": f"{LABEL_SESSION}={session}"}) == []


def test_up_and_down_from_the_command_line_leave_nothing(docker, office, office_images):
    session = f"{SESSION}-d"
    cli = str(ROOT / ".venv/bin/cyberrange")
    r = subprocess.run(
        [cli, "up", "gov-office", "--session", session, "--teams", "solo", "--seed", "2", "--json"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    try:
        assert r.returncode == 0, r.stderr
        s = json.loads(r.stdout)
        bridge = s["teams"]["solo"]["networks"]["office"]["bridge"]
        assert Path("/sys/class/net", bridge).exists()
        assert "all services healthy" in r.stderr  # progress goes to stderr
    finally:
        r = subprocess.run([cli, "down", session], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert f"removed {len(office.nodes)} containers, 1 networks" in r.stdout
    assert docker.containers.list(all=True, filters={"label": f"{LABEL_SESSION}={session}"}) == []
    assert docker.networks.list(filters={"label": f"{LABEL_SESSION}={session}"}) == []
    assert not Path("/sys/class/net", bridge).exists()
    rules = subprocess.run(["iptables", "-S"], capture_output=True, text=True).stdout
    assert f'cyberrange:{session}"' not in rules and f"cyberrange:{session} " not in rules
    assert down(session, client=docker) == {"containers": 0, "networks": 0, "rules": 0}
    assert status(session) == []


def test_an_unreachable_registry_image_is_a_clear_error(docker, tmp_path):
    env = load_environment(
        _write_env(
            tmp_path,
            {
                "kind": "environment",
                "name": "registry",
                "description": "an image from a registry that is not there",
                "networks": [{"name": "lan", "subnet": "10.79.0.0/16"}],
                "nodes": [
                    {
                        "name": "box",
                        "role": "server",
                        "image": "web",
                        "services": ["http"],
                        "networks": [{"network": "lan"}],
                    }
                ],
                "attacker": "box",
                "sensor": {"networks": ["lan"]},
                "benign": {"clients": ["box"]},
                "images": {"web": {"registry": "registry.invalid/cyberrange/nothing:1"}},
            },
        )
    )
    with pytest.raises(RuntimeFault, match="registry.invalid/cyberrange/nothing:1 is not present and cannot be pulled"):
        build(env, progress=lambda m: None, client=docker)


def test_a_router_joins_the_dmz_and_lan_and_nothing_leaves(docker):
    env = catalog().environment("dmz-lan")
    build(env, progress=lambda m: None, client=docker)
    session = f"{SESSION}-r"
    try:
        s = up(env, session, ["x"], seed=4, client=docker)
        lay = s.teams["x"].layout
        pid = _pid(session, "x", "attacker")  # on the "internet" network, outside the ministry
        assert call_in(pid, _http, lay.hosts["web"].ip, "/index.php")[0] == 200
        assert call_in(pid, _tcp, lay.hosts["files"].ip, 21).startswith("open:220")
        assert call_in(pid, resolve, lay.hosts["dns"].ip, f"files.{env.spec.domain}") == (0, [lay.hosts["files"].ip])
        assert call_in(pid, _tcp, "192.0.2.1", 80, 1.5).startswith("closed")
        routes = netns_exec(session, "x", "ws1", ["ip", "route"], capture_output=True, text=True).stdout
        assert f"default via {lay.hosts['router'].ips['lan']}" in routes
        routes = netns_exec(session, "x", "router", ["ip", "route"], capture_output=True, text=True).stdout
        assert "default" not in routes
        assert len(bridges(session)["x"]) == 3
    finally:
        down(session, client=docker)


# ---- the pure parts: addressing, naming, schema -------------------------------------------------


def test_team_subnets_are_distinct_free_and_match_offline_when_free(office):
    import ipaddress

    from range.runtime.lifecycle import allocate_subnets
    from range.topology import layout

    teams = [f"t{i}" for i in range(12)]
    free = allocate_subnets(office, teams, seed=9)
    assert len({s["office"] for s in free.values()}) == len(teams)
    seen = set()
    for t in teams:  # the live subnet is the one offline replay uses unless an earlier team has it
        offline = layout(office, t, 9).subnets["office"]
        if offline not in seen:
            assert free[t]["office"] == offline
        seen.add(free[t]["office"])
    taken = [free["t0"]["office"], ipaddress.IPv4Network("10.20.0.0/20")]
    moved = allocate_subnets(office, teams, seed=9, taken=taken)
    assert all(not s["office"].overlaps(x) for s in moved.values() for x in taken)
    assert len({s["office"] for s in moved.values()}) == len(teams)
    with pytest.raises(RuntimeFault, match="no free /24"):
        allocate_subnets(office, ["a"], seed=1, taken=[ipaddress.IPv4Network("10.20.0.0/16")])


def test_bridge_names_fit_linux_and_differ_per_team_and_network():
    from range.runtime.lifecycle import bridge_name

    names = {bridge_name("s", t, n) for t in ("a", "b", "c") for n in ("dmz", "lan")}
    assert len(names) == 6 and all(len(n) <= 15 and n.startswith("cr") for n in names)


def test_dns_records_and_capabilities(office):
    from range.runtime.lifecycle import capabilities, dns_records
    from range.topology import layout

    lay = layout(office, "a", 3)
    recs = dict(r.split("=") for r in dns_records(lay))
    assert recs["portal.ministry.gov.example"] == lay.hosts["web"].ip == recs["www.ministry.gov.example"]
    assert recs["ns1.ministry.gov.example"] == lay.hosts["dns"].ip
    assert "NET_RAW" in capabilities(office, "attacker") and "NET_ADMIN" not in capabilities(office, "attacker")
    assert capabilities(office, "ws1") == ["NET_RAW"]
    assert "SYS_CHROOT" in capabilities(office, "files") and "SYS_ADMIN" not in capabilities(office, "files")


def test_image_specs_stay_strict(tmp_path):
    from range.core import InputError

    base = {
        "kind": "environment",
        "name": "e",
        "description": "d",
        "networks": [{"name": "lan", "subnet": "10.80.0.0/16"}],
        "nodes": [{"name": "n", "role": "server", "image": "x", "networks": [{"network": "lan"}]}],
        "attacker": "n",
        "sensor": {"networks": ["lan"]},
        "benign": {"clients": ["n"]},
    }
    for images, msg in [
        ({"x": {"packages": ["curl"], "flavour": "big"}}, "unknown key 'flavour'"),
        ({"x": {"packages": ["curl"], "registry": "nginx:1.25"}}, "either built"),
        ({"x": {"packages": ["Bad_Name"]}}, "packages"),
    ]:
        with pytest.raises(InputError, match=msg):
            load_environment(_write_env(tmp_path, {**base, "images": images}))

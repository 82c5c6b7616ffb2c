"""Commands of the live range: images, up, status, down."""
from __future__ import annotations

import json

from range.cli.parser import arg, command, progress


@command("images", "build the live range's images offline (mmdebstrap + docker import), list or prune them")
@arg("action", choices=["build", "list", "prune"])
@arg("env", nargs="?", help="an environment name or path (default: every environment)")
def cmd_images(a) -> int:
    from range.runtime import client
    from range.runtime.images import build, recipes, remove_unused
    from range.scenario import catalog
    cat = catalog()
    envs = [cat.environment(a.env)] if a.env else [cat.environment(n) for n in cat.environments()]
    c = client()
    if a.action == "build":
        for env in envs:
            for name, tag in build(env, progress=progress, client=c).items():
                print(f"{env.name}\t{name}\t{tag}")
    elif a.action == "list":
        from docker.errors import ImageNotFound
        for env in envs:
            for name, r in recipes(env).items():
                try:
                    c.images.get(r.tag)
                    state = "present"
                except ImageNotFound:
                    state = "missing"
                print(f"{env.name}\t{name}\t{r.tag}\t{state}")
    else:
        keep = {r.tag for env in envs for r in recipes(env).values()}
        for tag in remove_unused(c, keep=keep):
            print(f"removed {tag}")
    return 0


@command("up", "start a live range: one isolated copy of an environment per team (Docker)")
@arg("env", help="an environment name or path")
@arg("--session", required=True, help="a name for this session (labels every container and network)")
@arg("--teams", required=True, help="comma-separated team names, e.g. a,b,c")
@arg("--seed", type=int, default=1)
@arg("--timeout", type=float, default=120.0, help="seconds to wait for every service to answer")
@arg("--json", action="store_true", help="print the session as JSON")
def cmd_up(a) -> int:
    from range.runtime import up
    from range.scenario import catalog
    env = catalog().environment(a.env)
    teams = [t.strip() for t in a.teams.split(",") if t.strip()]
    s = up(env, a.session, teams, a.seed, progress=progress, timeout=a.timeout)
    if a.json:
        print(json.dumps(_session_json(s), indent=1))
        return 0
    print(f"session {s.name}: {env.name} for {len(s.teams)} team(s), up in {s.seconds:.1f}s")
    for t in s.teams.values():
        nets = ", ".join(f"{n} {t.layout.subnets[n]} on {b}" for n, b in t.bridges.items())
        print(f"  team {t.name}: {nets}")
        for node, h in t.layout.hosts.items():
            print(f"    {node:<10} {h.hostname:<16} {' '.join(h.ips.values()):<16} {' '.join(h.services)}")
    return 0


def _session_json(s) -> dict:
    return {"session": s.name, "env": s.env.name, "seed": s.seed, "seconds": round(s.seconds, 2),
            "teams": {t.name: {"networks": {n: {"subnet": str(t.layout.subnets[n]), "bridge": t.bridges[n],
                                                "docker": t.networks[n]} for n in t.networks},
                               "nodes": {n: {"container": t.containers.get(n), "hostname": h.hostname, "ips": h.ips,
                                             "macs": h.macs, "services": h.services}
                                         for n, h in t.layout.hosts.items()}}
                      for t in s.teams.values()}}


@command("status", "show live sessions, their teams, nodes and service health (found by Docker labels)")
@arg("session", nargs="?", help="one session (default: all)")
@arg("--json", action="store_true")
@arg("--no-health", action="store_true", help="skip the service probes")
def cmd_status(a) -> int:
    from range.runtime import status
    from range.sessions import check_name
    if a.session is not None:
        check_name(a.session)   # a label value: never anything but a session name
    sessions = status(a.session, health=not a.no_health)
    if a.json:
        print(json.dumps(sessions, indent=1))
        return 0
    if not sessions:
        print("no live sessions" if not a.session else f"no session named {a.session}")
        return 0 if not a.session else 1
    for s in sessions:
        print(f"session {s['session']}: env {s['env']}, seed {s['seed']}, {len(s['teams'])} team(s)")
        for tname, t in sorted(s["teams"].items()):
            nets = ", ".join(f"{n} {v['subnet']} on {v['bridge']}" for n, v in t["networks"].items())
            print(f"  team {tname}: {nets}")
            for node, n in sorted(t["nodes"].items()):
                health = " ".join(
                    f"{k}={'ok' if v == 'ok' else 'FAIL(' + v + ')'}" for k, v in n.get("health", {}).items()
                )
                print(f"    {node:<10} {n['state']:<8} {' '.join(x for x in n['ips'].values() if x):<16} {health}")
    return 0


@command("down", "remove everything a live session created (containers, networks, host rules)")
@arg("session")
def cmd_down(a) -> int:
    from range.runtime import down
    from range.sessions import check_name

    r = down(check_name(a.session))
    print(
        f"session {a.session}: removed {r['containers']} containers, {r['networks']} networks, {r['rules']} host rules"
    )
    return 0

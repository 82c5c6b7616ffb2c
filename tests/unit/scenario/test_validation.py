"""Bad scenario and environment files: exit code 2, `file:line: what is wrong`, no traceback."""
import subprocess
import sys
from pathlib import Path

import pytest

from range.scenario import catalog
from tests.helpers import run_cli

GOOD_STEP = """  - id: recon
    technique: syn_scan
    source: attacker
    targets: [web]
    at: 10
    briefing: scan
"""


def scenario(body_steps: str, extra: str = "", env: str | None = None) -> str:
    env = env or str(catalog().path_of("environment", "gov-office"))
    return f"""kind: scenario
name: bad
description: test
environment: {env}
duration: 5m
{extra}steps:
{body_steps}"""


def run(tmp_path: Path, text: str):
    p = tmp_path / "s.yaml"
    p.write_text(text)
    r = run_cli("validate", str(p))
    return r, p


CASES = [
    ("unknown technique", GOOD_STEP.replace("syn_scan", "teleport"), 8, ["unknown technique 'teleport'", "syn_scan"]),
    ("target not in environment", GOOD_STEP.replace("[web]", "[web, mainframe]"), 10, ["'mainframe' is not a node"]),
    ("source not in environment", GOOD_STEP.replace("attacker", "ghost"), 9, ["source 'ghost' is not a node"]),
    ("bad param value", GOOD_STEP + "    params: {rate: -5}\n", 13, ["rate", "greater than 0"]),
    ("unknown param", GOOD_STEP + "    params: {speed: 9}\n", 13, ["unknown key 'speed'"]),
    ("bad port spec", GOOD_STEP + "    params: {ports: 'ten-twenty'}\n", 13, ["bad port range 'ten-twenty'"]),
    ("negative time", GOOD_STEP.replace("at: 10", "at: -3"), 11, ["negative time"]),
    ("missing key", GOOD_STEP.replace("    briefing: scan\n", ""), 7, ["missing required key 'steps[0].briefing'"]),
    ("unknown step key", GOOD_STEP + "    colour: red\n", 13, ["unknown key 'colour'"]),
    ("past the end", GOOD_STEP.replace("at: 10", "at: 299"), 11, ["past the scenario's duration"]),
    (
        "overlap",
        GOOD_STEP + GOOD_STEP.replace("recon", "recon2").replace("at: 10", "at: 10.1"),
        17,
        ["overlaps step 'recon'"],
    ),
    ("duplicate id", GOOD_STEP + GOOD_STEP.replace("at: 10", "at: 100"), 13, ["used twice"]),
    (
        "wrong service",
        GOOD_STEP.replace("syn_scan", "syn_scan").replace("[web]", "[]"),
        10,
        ["takes 1 to 16 target(s), got 0"],
    ),
]


@pytest.mark.parametrize("name,steps,line,needles", CASES, ids=[c[0] for c in CASES])
def test_bad_scenario(tmp_path, name, steps, line, needles):
    r, p = run(tmp_path, scenario(steps))
    assert r.returncode == 2, r.stdout + r.stderr
    assert "Traceback" not in r.stderr
    assert f"{p}:{line}:" in r.stderr, r.stderr
    for n in needles:
        assert n in r.stderr, r.stderr


@pytest.mark.parametrize(
    "text,needle,line",
    [
        ("kind: scenario\nname: x\n  bad: [indent\n", "malformed YAML", 3),
        ("kind: scenario\nname: &a x\n", "anchors", 2),
        ("kind: scenario\nname: x\nname: y\n", "duplicate key 'name'", 3),
        ("name: x\n", "missing or unknown 'kind'", 1),
        ("", "empty", 1),
    ],
)
def test_malformed_yaml(tmp_path, text, needle, line):
    r, p = run(tmp_path, text)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert f"{p}:{line}:" in r.stderr and needle in r.stderr, r.stderr


def test_not_utf8_and_missing_file(tmp_path):
    p = tmp_path / "s.yaml"
    p.write_bytes(b"kind: scenario\nname: \xff\xfe\n")
    r = run_cli("validate", p, tmp_path / "nope.yaml")
    assert r.returncode == 2 and "not UTF-8" in r.stderr and "nope.yaml: cannot read" in r.stderr


def test_unknown_environment_and_bad_env_file(tmp_path):
    r, p = run(tmp_path, scenario(GOOD_STEP, env="atlantis"))
    assert r.returncode == 2 and f"{p}:4:" in r.stderr and "no environment named 'atlantis'" in r.stderr
    env = (catalog().path_of("environment", "gov-office")).read_text()
    q = tmp_path / "env.yaml"
    q.write_text(
        env.replace("services: [dns]", "services: [dns, gopher]").replace(
            "subnet: 10.20.0.0/16", "subnet: 10.20.0.0/33"
        )
    )
    r = run_cli("validate", str(q))
    assert r.returncode == 2 and "unknown service 'gopher'" in r.stderr and "subnet" in r.stderr


def test_shipped_files_validate():
    from range.scenario import validate_file

    files = [e.path for e in catalog().entries()]
    assert len([e for e in catalog().entries() if e.kind == "scenario"]) >= 1
    for f in files:
        validate_file(f)


def test_a_name_not_found_names_the_catalog_files_it_could_not_read(tmp_path):
    """A scenario file the catalog skipped (invalid YAML) is named when its name is looked up."""
    home = tmp_path / "home"
    (home / "environments" / "x").mkdir(parents=True)
    bad = home / "environments" / "x" / "mine.yaml"
    bad.write_text("kind: scenario\nname: mine\nsteps: &shared []\n")
    env = dict(__import__("os").environ, CYBERRANGE_HOME=str(home))
    r = subprocess.run(
        [sys.executable, "-m", "range.cli", "replay", "mine", "--out", str(tmp_path / "o")],
        capture_output=True,
        text=True,
        env=env,
    )
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    assert "no scenario named 'mine'" in r.stderr
    assert f"skipped, not valid YAML: {bad}:3: YAML anchors (&shared)" in r.stderr, r.stderr


@pytest.mark.parametrize("benign,line,needle", [
    ("benign:\n  host: {rate: 0.1, typo: 0.5}\n", 7, "unknown key 'typo'"),
    ("benign:\n  host: {rate: 6}\n", 7, "less than or equal to 5"),
    ("benign:\n  host: {}\n", 7, "rate"),
    ("benign:\n  hosts: {rate: 0.1}\n", 7, "unknown benign traffic kind 'hosts'"),
])
def test_benign_host_activity_is_validated_strictly(tmp_path, benign, line, needle):
    r, p = run(tmp_path, scenario(GOOD_STEP, extra=benign))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert f"{p}:{line}:" in r.stderr and needle in r.stderr, r.stderr
    ok, _ = run(tmp_path, scenario(GOOD_STEP, extra="benign:\n  host: {rate: 0.1}\n"))
    assert ok.returncode == 0, ok.stderr

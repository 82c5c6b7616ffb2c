"""Shared test fixtures. Tests use the real tools: a missing tshark or Docker fails loudly.

Tests live in tiers, one folder each, and carry the folder's marker: ``unit/<package>`` (pure),
``integration`` (real tshark and pySigma), ``web`` (the app through Flask's test client), ``live``
(the real Docker Engine), ``e2e`` (a real browser). ``scripts/test --fast`` runs all but live and e2e.
"""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from range.sessions import accounts

ROOT = Path(__file__).resolve().parent.parent
TESTS = Path(__file__).resolve().parent
TIERS = ("unit", "integration", "web", "live", "e2e")


# Whole-corpus and whole-scenario checks: they run in the full suite, not in the fast tier's loop
SLOW = {"test_zeek_parity.py", "test_reference_rules.py", "test_sigmahq_corpus.py", "test_api_fuzz.py"}


def pytest_collection_modifyitems(config, items):
    for item in items:
        path = Path(str(item.fspath)).resolve()
        tier = path.relative_to(TESTS).parts[0]
        if tier not in TIERS:
            raise pytest.UsageError(f"{item.nodeid}: tests live under tests/<tier>/, tiers: {', '.join(TIERS)}")
        item.add_marker(getattr(pytest.mark, tier))
        if path.name in SLOW:
            item.add_marker(pytest.mark.slow)


def require(tool: str) -> str:
    path = shutil.which(tool)
    if not path:
        pytest.fail(
            f"{tool} is not installed: run scripts/test (it installs Debian's {tool}) or apt-get install {tool}",
            pytrace=False,
        )
    return path


def tshark_fields(
    pcap: Path, fields: list[str], display_filter: str = "", extra: list[str] | None = None
) -> list[list[str]]:
    """Rows of the given fields as real tshark dissects them."""
    cmd = [
        require("tshark"),
        "-n",
        "-r",
        str(pcap),
        "-T",
        "fields",
        "-E",
        "separator=\t",
        "-E",
        "occurrence=a",
        "-E",
        "aggregator=,",
    ]
    for f in fields:
        cmd += ["-e", f]
    if display_filter:
        cmd += ["-Y", display_filter]
    cmd += extra or []
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return [line.split("\t") for line in out.splitlines()]


@pytest.fixture(scope="session")
def tshark() -> str:
    return require("tshark")


@pytest.fixture(scope="session")
def docker():
    """The real Docker Engine; a test that needs it fails (never skips) when it is unreachable."""
    from range.core import ToolMissing
    from range.runtime import client

    try:
        return client()
    except ToolMissing as e:
        pytest.fail(f"the live range tests need the Docker Engine: {e}", pytrace=False)


@pytest.fixture(scope="session")
def office():
    from range.scenario import catalog

    return catalog().environment("gov-office")


@pytest.fixture(scope="session")
def office_images(docker, office):
    """Build (or find, by content hash) every image gov-office needs, once per test session."""
    import sys

    from range.runtime.images import build

    return build(office, progress=lambda m: print(m, file=sys.stderr), client=docker)


def app_over_fresh_state(tmp_path_factory, **config):
    """The web app over a new state store in a temporary folder (``range.core.paths.STATE`` points there),
    no background driver nor preparation (the tests tick and prepare by hand), and a generated
    instructor password. Returns (app, store, password, monkeypatch): undo the patch at teardown."""
    from range.sessions import StateStore
    from scoreboard import create_app

    mp = pytest.MonkeyPatch()
    state = tmp_path_factory.mktemp("state")
    mp.setattr("range.core.paths.STATE", state)
    mp.delenv(accounts.ENV_PASSWORD, raising=False)
    store = StateStore(state / "cyberrange.db")
    password = accounts.ensure_instructor_password(store)
    app = create_app({"STORE": store, "DRIVER": False, "BACKGROUND_PREPARE": False, **config})
    return app, store, password, mp

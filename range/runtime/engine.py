"""The Docker Engine connection shared by image building and the live runtime.

One place turns "Docker is not there" into a :class:`range.core.errors.ToolMissing` that says what to do,
and one place names the labels every object the range creates carries.
"""
from __future__ import annotations

import fcntl
from contextlib import contextmanager

from range.core import ToolMissing, paths

LABEL_SESSION = "cyberrange.session"
LABEL_TEAM = "cyberrange.team"
LABEL_NODE = "cyberrange.node"
LABEL_ENV = "cyberrange.env"
LABEL_NETWORK = "cyberrange.network"
LABEL_IMAGE = "cyberrange.image"
LABEL_RECIPE = "cyberrange.recipe"
LABEL_SEED = "cyberrange.seed"
LABEL_ENV_PATH = "cyberrange.env-path"
LABEL_SUBNET = "cyberrange.subnet"
LABEL_BRIDGE = "cyberrange.bridge"


def client():
    """A connected Docker SDK client, or :class:`ToolMissing` explaining why there is none."""
    try:
        import docker
    except ImportError as e:  # pragma: no cover - the package is a dependency
        raise ToolMissing(f"the Docker SDK for Python is not installed ({e}); run scripts/bootstrap") from None
    try:
        c = docker.from_env(timeout=120)
        c.ping()
        return c
    except Exception as e:  # DockerException, or requests' connection errors on some paths
        raise ToolMissing(f"Docker Engine is not reachable ({_short(e)}); start it (systemctl start docker) "
                          "or point DOCKER_HOST at it: the live range and image builds need it") from None


@contextmanager
def host_lock(name: str):
    """An exclusive lock shared by every cyberrange process on this host (``<state>/<name>.lock``)."""
    paths.STATE.mkdir(parents=True, exist_ok=True)
    with open(paths.STATE / f"{name}.lock", "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _short(e: Exception) -> str:
    text = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    return text[:300]

"""Working inside a container's network namespace from the host.

The range gives its containers no ``NET_ADMIN``: the orchestrator (root on the host) configures
their routes and MAC addresses with ``nsenter --net=/proc/<pid>/ns/net ip ...``, checks their
services from inside their namespace, and the live attack runner runs the project's Python attack
scripts there the same way (:func:`exec_in`). :func:`call_in` runs a Python callable in a thread
that has joined the namespace (``setns(2)``), which is how health probes reach a node's address
on an internal network the host has no address on.
"""
from __future__ import annotations

import ctypes
import os
import subprocess
import threading
from typing import Any, Callable

from range.core import RuntimeFault, require_tool

CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


def path(pid: int) -> str:
    """The network namespace file of process ``pid`` (a container's init)."""
    return f"/proc/{pid}/ns/net"


def call_in(pid: int, fn: Callable[..., Any], *args, **kwargs) -> Any:
    """Run ``fn(*args, **kwargs)`` in a new thread inside ``pid``'s network namespace.

    Sockets ``fn`` opens live in that namespace. The thread ends with the call, so the
    namespace switch never leaks into the orchestrator's other threads.
    """
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            fd = os.open(path(pid), os.O_RDONLY)
        except OSError as e:
            box["error"] = RuntimeFault(f"cannot open the network namespace of pid {pid}: {e.strerror}")
            return
        try:
            if _libc.setns(fd, CLONE_NEWNET) != 0:
                err = ctypes.get_errno()
                box["error"] = RuntimeFault(f"setns into pid {pid}'s network namespace failed: {os.strerror(err)} "
                                            "(the orchestrator must run as root)")
                return
        finally:
            os.close(fd)
        try:
            box["value"] = fn(*args, **kwargs)
        except BaseException as e:  # handed to the caller's thread
            box["error"] = e

    t = threading.Thread(target=run, name=f"netns-{pid}", daemon=True)
    t.start()
    t.join()
    if "error" in box:
        raise box["error"]
    return box.get("value")


def exec_in(pid: int, argv: list[str], **kwargs) -> subprocess.CompletedProcess:
    """``subprocess.run(argv)`` inside ``pid``'s network namespace (host file system, host user).

    Keyword arguments go to :func:`subprocess.run` (``capture_output``, ``text``, ``timeout``...).
    """
    nsenter = require_tool("nsenter", "util-linux")
    return subprocess.run([nsenter, f"--net={path(pid)}", "--", *argv], **kwargs)


def ip(pid: int, *args: str) -> str:
    """Run ``ip args...`` in the namespace; a failure is a :class:`RuntimeFault` quoting ip's error."""
    tool = require_tool("ip", "iproute2")
    r = exec_in(pid, [tool, *args], capture_output=True, text=True, timeout=30)
    if r.returncode != 0:
        raise RuntimeFault(f"ip {' '.join(args)} in pid {pid}'s namespace failed: {r.stderr.strip() or r.returncode}")
    return r.stdout


def interfaces(pid: int) -> dict[str, tuple[str, str]]:
    """IPv4 address -> (interface name, MAC address) inside the namespace."""
    macs = {}
    for line in ip(pid, "-o", "link", "show").splitlines():
        parts = line.split()
        if len(parts) > 2 and "link/ether" in parts:
            macs[parts[1].rstrip(":").split("@")[0]] = parts[parts.index("link/ether") + 1]
    out = {}
    for line in ip(pid, "-o", "-4", "addr", "show").splitlines():
        parts = line.split()
        if len(parts) >= 4 and parts[2] == "inet":
            dev = parts[1].split("@")[0]
            out[parts[3].split("/")[0]] = (dev, macs.get(dev, ""))
    return out

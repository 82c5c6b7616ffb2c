"""Images for the live range, built offline from Debian's packages.

No registry is needed: ``mmdebstrap`` makes a Debian root file system with the image's packages,
a customize hook lays the recipe's files over it (``environments/images/common/`` for every image,
then ``environments/images/<recipe>/``: an ``overlay/`` tree, ``setup.sh`` run in the chroot,
``recipe.yaml`` naming extra packages), and the tarball is loaded with ``docker import`` under a tag
made from a hash of everything that went in (packages, files, recipe version), e.g.
``cyberrange/web:3f2a9c0d1b4e``. An unchanged image is never rebuilt. An environment may name an
ordinary registry image instead (``images: {web: {registry: "nginx:1.25"}}`` or a node's
``image: "name:tag"``); it is used as is and pulled only when absent.

Downloads are cached in ``$CYBERRANGE_APT_CACHE`` (default ``<state>/apt-cache``) and copied into
each build, so building several images fetches each package once. Builds run in a private mount
namespace in a temporary directory on tmpfs when there is one; whatever fails, the temporary
directory goes and no tag is left behind.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import yaml
from docker.errors import DockerException, ImageNotFound

from range.core import InputError, RuntimeFault, ToolMissing, paths, require_tool
from range.runtime.engine import LABEL_IMAGE, LABEL_RECIPE, host_lock
from range.runtime.engine import client as docker_client
from range.topology import SERVICES

RECIPE_VERSION = 1  # bump when the build procedure below changes what lands in an image
SUITE = "bookworm"
VARIANT = "minbase"
REPOSITORY = "cyberrange"
ENTRYPOINT = "/usr/local/sbin/cr-start"
RECIPES = paths.ENVIRONMENTS / "images"
COMMON = "common"
_EXCLUDE = ["/usr/share/man/*", "/usr/share/locale/*", "/usr/share/doc/*", "/usr/share/info/*"]
_STAGES = [("running apt-get update", "apt update"), ("downloading packages", "download"),
           ("extracting archives", "extract"), ("installing essential", "install essential packages"),
           ("installing remaining", "install packages"), ("running --customize-hook", "configure"),
           ("creating tarball", "pack")]

Progress = Callable[[str], None]


def _stderr(msg: str) -> None:
    print(f"  {msg}", file=sys.stderr, flush=True)


@dataclass
class Recipe:
    """One image an environment needs: built from ``packages`` and recipe dirs, or a registry reference."""
    name: str
    packages: tuple[str, ...] = ()
    dirs: tuple[Path, ...] = ()
    registry: str | None = None
    used_by: list[str] = field(default_factory=list)

    @property
    def digest(self) -> str:
        if self.registry:
            return ""
        h = hashlib.sha256()
        h.update(json.dumps({"version": RECIPE_VERSION, "suite": SUITE, "variant": VARIANT,
                             "exclude": _EXCLUDE, "packages": sorted(self.packages)}).encode())
        for d in self.dirs:
            for f in sorted(p for p in d.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
                h.update(f"\0{d.name}/{f.relative_to(d)}\0{os.stat(f).st_mode & 0o111:o}\0".encode())
                h.update(f.read_bytes())
        return h.hexdigest()

    @property
    def tag(self) -> str:
        return self.registry or f"{REPOSITORY}/{self.name}:{self.digest[:12]}"


def _recipe_packages(d: Path) -> list[str]:
    f = d / "recipe.yaml"
    if not f.exists():
        return []
    data = yaml.safe_load(f.read_text()) or {}
    if not isinstance(data, dict) or set(data) - {"packages"} or not isinstance(data.get("packages", []), list):
        raise InputError("a recipe.yaml holds only 'packages: [...]'", file=str(f))
    return [str(p) for p in data.get("packages") or []]


def recipes(env) -> dict[str, Recipe]:
    """The images ``env``'s nodes run, by image name (a registry reference names itself)."""
    out: dict[str, Recipe] = {}
    for node in env.spec.nodes:
        if not node.image:
            raise InputError(f"node {node.name!r} names no image; give it 'image:' (a name under images: "
                             "or a registry reference name:tag)", file=str(env.path))
        spec = env.spec.images.get(node.image)
        if spec is None or spec.registry:
            ref = spec.registry if spec else node.image
            out.setdefault(node.image, Recipe(node.image, registry=ref)).used_by.append(node.name)
            continue
        if node.image not in out:
            recipe_dir = RECIPES / (spec.recipe or node.image)
            if spec.recipe and not recipe_dir.is_dir():
                raise InputError(f"image {node.image!r}: recipe directory {recipe_dir} does not exist",
                                 file=str(env.path))
            dirs = tuple(d for d in (RECIPES / COMMON, recipe_dir) if d.is_dir())
            out[node.image] = Recipe(node.image, dirs=dirs)
        r = out[node.image]
        pkgs = set(r.packages) | set(spec.packages)
        for d in r.dirs:
            pkgs |= set(_recipe_packages(d))
        for s in node.services:
            pkgs |= set(SERVICES[s].packages)
        r.packages = tuple(sorted(pkgs))
        r.used_by.append(node.name)
    return out


def image_refs(env) -> dict[str, str]:
    """node name -> the image reference it runs."""
    rs = recipes(env)
    return {n.name: rs[n.image].tag for n in env.spec.nodes}


def build(env, progress: Progress = _stderr, client=None) -> dict[str, str]:
    """Make sure every image ``env`` needs exists locally; returns image name -> tag."""
    client = client or docker_client()
    out = {}
    for name, r in recipes(env).items():
        out[name] = ensure(r, client, progress)
    return out


def ensure(r: Recipe, client, progress: Progress = _stderr) -> str:
    tag = r.tag
    if r.registry:
        return _pull(r, client, progress)
    try:
        client.images.get(tag)
        progress(f"[{r.name}] {tag} is up to date")
        return tag
    except ImageNotFound:
        pass
    with host_lock("images"):
        try:  # another process may have built it while we waited
            client.images.get(tag)
            return tag
        except ImageNotFound:
            pass
        _build(r, tag, client, progress)
    return tag


def _pull(r: Recipe, client, progress: Progress) -> str:
    try:
        client.images.get(r.registry)
        progress(f"[{r.name}] {r.registry} is present")
        return r.registry
    except ImageNotFound:
        pass
    progress(f"[{r.name}] pulling {r.registry}")
    try:
        tagged = ":" in r.registry.rsplit("/", 1)[-1]
        repo, _, tag = r.registry.rpartition(":") if tagged else (r.registry, "", "latest")
        client.images.pull(repo, tag=tag)
    except DockerException as e:
        raise RuntimeFault(
            f"image {r.name}: {r.registry} is not present and cannot be pulled "
            f"({str(e).strip().splitlines()[0][:300]}); is a registry reachable? Otherwise define "
            f"images: {{{r.name}: {{packages: [...]}}}} to build it offline"
        ) from None
    return r.registry


def apt_cache() -> Path:
    d = Path(os.environ.get("CYBERRANGE_APT_CACHE", paths.STATE / "apt-cache"))
    d.mkdir(parents=True, exist_ok=True)
    return d


def _scratch() -> str | None:
    """A tmpfs with room for a root file system, if there is one: dpkg's fsyncs cost nothing there."""
    try:
        st = os.statvfs("/dev/shm")
        if os.access("/dev/shm", os.W_OK) and st.f_bavail * st.f_frsize > 3 * 2**30:
            return "/dev/shm"
    except OSError:
        pass
    return None


def _customize_script(r: Recipe) -> str:
    q = shlex.quote
    lines = ["set -e", 'root="$1"']
    for d in r.dirs:
        if (d / "overlay").is_dir():
            lines.append(f'cp -R --preserve=mode,timestamps {q(str(d / "overlay"))}/. "$root"/')
    lines.append('mkdir -p "$root/tmp/cr-recipe"')
    for d in r.dirs:
        lines.append(f'cp -R {q(str(d))} "$root/tmp/cr-recipe/{d.name}"')
    for d in r.dirs:
        if (d / "setup.sh").exists():
            lines.append(f'echo "cyberrange: running {d.name}/setup.sh"')
            lines.append(f'chroot "$root" /bin/sh -e /tmp/cr-recipe/{d.name}/setup.sh')
    lines.append('rm -rf "$root/tmp/cr-recipe"')
    return "\n".join(lines) + "\n"


def _build(r: Recipe, tag: str, client, progress: Progress) -> None:
    mmdebstrap = require_tool("mmdebstrap")
    unshare = require_tool("unshare", "util-linux")
    if os.geteuid() != 0:
        raise ToolMissing("building range images needs root (mmdebstrap --mode=root); run as root or sudo")
    cache = apt_cache()
    t0 = time.monotonic()
    progress(f"[{r.name}] building {tag}: {len(r.packages)} packages ({', '.join(r.packages)})")
    with tempfile.TemporaryDirectory(prefix="cyberrange-build-", dir=_scratch()) as tmp:
        hook = Path(tmp) / "customize.sh"
        hook.write_text(_customize_script(r))
        tarball = Path(tmp) / "rootfs.tar"
        q = shlex.quote
        cmd = [
            unshare,
            "--mount",
            "--propagation",
            "private",
            mmdebstrap,
            f"--variant={VARIANT}",
            "--mode=root",
            "--format=tar",
            "--skip=essential/unlink",
            f"--include={','.join(r.packages)}",
            *[f"--dpkgopt=path-exclude={p}" for p in _EXCLUDE],
            "--dpkgopt=path-include=/usr/share/doc/*/copyright",
            f'--setup-hook=mkdir -p "$1"/var/cache/apt/archives && '
            f'cp -R {q(str(cache))}/. "$1"/var/cache/apt/archives/',
            f'--customize-hook=sh {q(str(hook))} "$1"',
            f'--customize-hook=cp -n "$1"/var/cache/apt/archives/*.deb {q(str(cache))}/ 2>/dev/null || true',
            SUITE,
            str(tarball),
        ]
        env = dict(os.environ, TMPDIR=tmp, LC_ALL="C.UTF-8")
        tail: deque[str] = deque(maxlen=400)
        stage = ""
        proc = subprocess.Popen(
            cmd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            text=True,
            errors="replace",
        )
        try:
            assert proc.stdout is not None
            for line in proc.stdout:
                line = line.rstrip("\n")
                tail.append(line)
                for needle, name in _STAGES:
                    if needle in line and name != stage:
                        stage = name
                        progress(f"[{r.name}] {stage} ({time.monotonic() - t0:.0f}s)")
            rc = proc.wait()
        except BaseException:
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            raise
        if rc != 0 or not tarball.exists():
            raise RuntimeFault(f"image {r.name}: {explain_failure(list(tail), r.packages)}")
        progress(f"[{r.name}] import ({time.monotonic() - t0:.0f}s)")
        _import(tarball, tag, r, client)
    progress(f"[{r.name}] built {tag} in {time.monotonic() - t0:.0f}s")


def _import(tarball: Path, tag: str, r: Recipe, client) -> None:
    repo, _, version = tag.rpartition(":")
    changes = [
        f"CMD {json.dumps([ENTRYPOINT])}",
        "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        f"LABEL {LABEL_IMAGE}={r.name} {LABEL_RECIPE}={r.digest}",
    ]
    try:
        out = client.api.import_image(src=str(tarball), repository=repo, tag=version, changes=changes)
    except DockerException as e:
        raise RuntimeFault(f"image {r.name}: docker import failed: {e}") from None
    text = out if isinstance(out, str) else json.dumps(out)
    if "errorDetail" in text or '"error"' in text:
        raise RuntimeFault(f"image {r.name}: docker import failed: {text[:500]}")


_NOT_FOUND = [
    re.compile(r"E: Unable to locate package (\S+)"),
    re.compile(r"E: Package '([^']+)' has no installation candidate"),
    re.compile(r"E: Couldn't find any package by (?:glob|regex) '([^']+)'"),
]
_BROKEN = re.compile(r"^\s*(\S+) : (?:Pre)?Depends: (.+)$")
_DPKG = re.compile(r"dpkg: error processing package (\S+) \((--\w+)\)")
_NETWORK = re.compile(
    r"(Could not resolve|Failed to fetch|Temporary failure resolving|Connection failed|"
    r"Unable to connect)",
    re.I,
)


def explain_failure(lines: list[str], packages: tuple[str, ...] = ()) -> str:
    """The one sentence that says why an mmdebstrap run failed, naming the package when apt does."""
    text = "\n".join(lines)
    missing = [m.group(1) for rx in _NOT_FOUND for m in rx.finditer(text)]
    if missing:
        names = ", ".join(dict.fromkeys(missing))
        return (
            f"Debian package{'s' if len(set(missing)) > 1 else ''} {names} not found in Debian {SUITE} "
            f"(apt: {next(ln.strip() for ln in lines if any(x in ln for x in missing) and ln.strip().startswith('E:'))})"  # noqa: E501
        )
    broken = [f"{m.group(1)} depends on {m.group(2).strip()}" for ln in lines if (m := _BROKEN.match(ln))]
    if broken:
        return "unsatisfiable dependencies: " + "; ".join(broken[:5])
    dpkg = [m for ln in lines if (m := _DPKG.search(ln))]
    if dpkg:
        pkg = dpkg[0].group(1)
        return f"package {pkg} failed to install (dpkg {dpkg[0].group(2)}): " + _last_errors(lines)
    if any(ln.startswith("E:") and ("hook" in ln or "customize.sh" in ln) for ln in lines):
        return "the recipe's customize step failed: " + _last_errors(lines, hook=True)
    if any(_NETWORK.search(ln) for ln in lines):
        return "cannot download from Debian's mirror: " + _last_errors(lines)
    return "mmdebstrap failed: " + _last_errors(lines)


def _last_errors(lines: list[str], hook: bool = False) -> str:
    if hook:  # the setup script's own output right before mmdebstrap's error
        idx = max((i for i, ln in enumerate(lines) if ln.startswith("E:")), default=len(lines))
        ctx = [ln for ln in lines[max(0, idx - 8) : idx] if ln.strip() and not ln.startswith("I:")]
        return " | ".join(ctx[-6:]) or lines[-1] if lines else "no output"
    errs = [ln.strip() for ln in lines if ln.strip().startswith(("E:", "W:", "dpkg:"))]
    return " | ".join(errs[-4:]) if errs else (" | ".join(lines[-5:]) if lines else "no output")


def remove_unused(client=None, keep: set[str] | None = None) -> list[str]:
    """Remove built cyberrange images no container uses and not in ``keep``; returns their tags."""
    client = client or docker_client()
    used = {c.image.id for c in client.containers.list(all=True)}
    removed = []
    for img in client.images.list(filters={"label": LABEL_RECIPE}):
        if img.id in used or keep and set(img.tags) & keep:
            continue
        for t in img.tags:
            client.images.remove(t)
            removed.append(t)
    return removed

"""One team's folder: the one place that knows which file holds what.

Offline, ``cyberrange replay`` and ``exercise run`` write a team's folder; in a session it is
``<state>/sessions/<session>/teams/<team>/``. Every stage finds its files through
:class:`TeamDir` instead of spelling the names out:

| file | written by | holds |
| --- | --- | --- |
| ``capture.pcap`` | replay (offline), the live feed at the end (the sensors' ring merged) | the team's packets |
| ``truth.json`` | replay, live truth | the ground truth of every step |
| ``host.jsonl`` | replay (offline) | the host records the nodes logged (processes, audit, syslog, web), for ingest |
| ``source.db`` | an offline session's preparation | every event of the synthesised capture |
| ``events.db`` | ingest, the live sensors, the offline feed | the events delivered so far |
| ``alerts.json``, ``score.json`` | ``exercise run`` | the team's alerts and score |
| ``rules/<pk>.yml`` | deploying a rule | each deployed rule's text |
| ``pcap/<network>/ring_*.pcap`` | the live sensors (dumpcap) | the live capture, a ring of files |
| ``sensor-<network>.json`` / ``.err`` | the live sensors | their figures / their log |
| ``actuators/<owner>-<node>.plan`` / ``.jsonl`` / ``.err`` | the live actuators | plan, what was sent, log |
| ``launched.json`` | the live feed | the steps launched so far (after a restart, none twice) |
| ``next/`` | an offline feed that moves a step | the rebuilt capture, truth and source |
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class TeamDir:
    path: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", Path(self.path))

    def make(self) -> "TeamDir":
        (self.path / "rules").mkdir(parents=True, exist_ok=True)
        return self

    @property
    def capture(self) -> Path:
        return self.path / "capture.pcap"

    @property
    def truth(self) -> Path:
        return self.path / "truth.json"

    @property
    def host_log(self) -> Path:
        return self.path / "host.jsonl"

    @property
    def source(self) -> Path:
        return self.path / "source.db"

    @property
    def events(self) -> Path:
        return self.path / "events.db"

    @property
    def alerts(self) -> Path:
        return self.path / "alerts.json"

    @property
    def score(self) -> Path:
        return self.path / "score.json"

    @property
    def launched(self) -> Path:
        return self.path / "launched.json"

    @property
    def actuators(self) -> Path:
        return self.path / "actuators"

    @property
    def next(self) -> "TeamDir":
        return TeamDir(self.path / "next")

    def rule(self, pk: int) -> Path:
        return self.path / "rules" / f"{pk}.yml"

    def ring(self, network: str) -> Path:
        return self.path / "pcap" / network

    def ring_pcaps(self, networks) -> list[Path]:
        """The live sensors' ring files of these networks, oldest first within each network."""
        return [p for net in networks for p in sorted(self.ring(net).glob("ring_*.pcap"))]

    def sensor_status(self, network: str) -> Path:
        return self.path / f"sensor-{network}.json"

    def sensor_log(self, network: str) -> Path:
        return self.path / f"sensor-{network}.err"

    def actuator(self, owner: str, node: str, suffix: str) -> Path:
        """``.plan`` (what to do), ``.jsonl`` (what was sent), ``.err`` (its log) of one actuator."""
        return self.actuators / f"{owner}-{node}{suffix}"

    def captures(self) -> list[Path]:
        """The team's packets: the merged capture when there is one, else the live sensors' ring."""
        if self.capture.exists():
            return [self.capture]
        return sorted(self.path.glob("pcap/*/ring_*.pcap"))

"""SSH password guessing (``hydra -L users.txt -P passwords.txt -t 4 ssh://target``, or medusa's
ssh module), MITRE ATT&CK T1110.001 Brute Force: Password Guessing.

Imitates hydra (built on libssh: ``SSH-2.0-libssh_0.10.6``) or medusa (libssh2:
``SSH-2.0-libssh2_1.10.0``) against Debian's OpenSSH 9.2. Each of ``tasks`` parallel workers
opens TCP connections to port 22 one after the other; each connection shows sshd's banner and
the tool's, both KEXINITs with the tool's real algorithm lists (so its HASSH), the
curve25519 ECDH init/reply, NEWKEYS, then encrypted packets sized as the real messages: service
request/accept, a ``none`` probe, and up to ``per_connection`` password attempts for one user,
each refused after PAM's ~2 s failure delay. The sixth failure makes sshd send
"Too many authentication failures" and close (MaxAuthTries); shorter batches end with the
tool's disconnect. With ``success_at``, that attempt is accepted, the tool stops (``-f``), and a
few seconds later the intruder logs in with ``ssh`` and the found password for an interactive
session (``id``, ``cat /etc/passwd``, ``sudo -l`` …).

Wireshark: many ``ssh.protocol == "SSH-2.0-libssh_0.10.6"`` sessions from one source,
``ssh.message_code == 20`` both ways, ``ssh.kex.hassh``, and encrypted packets of equal sizes.

On the target (host records, syslog as Debian's sshd and PAM write it, each connection under its
own sshd's pid): ``Invalid user admin from A port P`` for a login the server lacks (every login
but root and the one found), PAM's ``authentication failure`` and ``Failed password for [invalid
user] U from A port P ssh2`` at each refusal, ``maximum authentication attempts exceeded`` and
``Disconnecting authenticating user ...: Too many authentication failures [preauth]`` at the
sixth, ``Disconnected from ... [preauth]`` when the tool hangs up, ``Accepted password for U from
A port P ssh2`` at the find; the intruder's login after it is a session with its shell and
commands (``sudo -l`` refused: the login is no sudoer).
"""
from __future__ import annotations

import heapq
import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from attack_scripts import _linux, _ssh
from attack_scripts._names import human_password, login_name
from attack_scripts._tcptime import fit, message_times, session_end
from range.core import Strict
from range.traffic import StepContext, TcpSession, Technique, ephemeral_port, technique

# the head of the wordlists people feed hydra: SSH defaults first, then rockyou's most common
PASSWORDS = [
    "root", "toor", "admin", "password", "123456", "changeme", "raspberry", "ubuntu", "debian", "qwerty",
    "letmein", "P@ssw0rd", "Welcome1", "admin123", "root123", "passw0rd", "1q2w3e4r", "test", "guest", "master",
    "12345", "123456789", "iloveyou", "princess", "1234567", "rockyou", "12345678", "abc123", "nicole", "daniel",
    "babygirl", "monkey", "lovely", "jessica", "654321", "michael", "ashley", "111111", "iloveu", "000000",
    "michelle", "tigger", "sunshine", "chocolate", "password1", "soccer", "anthony", "friends", "butterfly",
    "purple", "angel", "jordan", "liverpool", "justin", "loveme", "123123", "football", "secret", "andrea",
    "carlos", "jennifer", "joshua", "bubbles", "1234567890", "superman", "hannah", "amanda", "loveyou", "pretty",
    "basketball", "andrew", "angels", "tweety", "flower", "playboy", "hello", "elizabeth", "hottie", "tinkerbell",
    "charlie", "samantha", "barbie", "chelsea", "lovers", "teamo", "jasmine", "brandon", "666666", "shadow",
    "melissa", "eminem", "matthew", "robert", "danielle", "forever", "family", "jonathan", "987654321",
    "computer", "whatever", "dragon", "vanessa", "cookie", "naruto", "summer", "sweety", "spongebob", "joseph",
    "junior", "softball", "taylor", "yellow", "daniela", "lauren", "mickey", "princesa", "alexandra", "alexis",
    "jesus", "estrella", "miguel", "william", "thomas", "beautiful", "mylove", "angela", "poohbear", "patrick",
    "iloveme", "sakura", "adrian", "alexander", "destiny", "christian", "121212", "sayang", "america", "dancer",
    "monica", "richard", "112233", "princess1", "555555", "diamond", "carolina", "steven", "rangers", "louise",
    "orange", "789456", "999999", "shorty", "11111", "nathan", "snoopy", "gabriel", "hunter", "cherry", "killer",
    "sandra", "alejandro", "buster", "george", "brittany", "alejandra", "patricia", "rachel", "tequiero",
    "7777777", "cheese", "159753", "arsenal", "dolphin", "antonio", "heather", "david", "ginger", "stephanie",
    "peanut", "blink182", "sweetie", "222222", "beauty", "987654", "victoria", "honey", "00000", "fernando",
    "pokemon", "maggie", "corazon", "chicken", "pepper", "cristina", "rainbow", "kisses", "manuel", "myspace"]
_SUFFIXES = ["", "1", "123", "!", "2026", "2025", "12", "@123", "2024", "01"]

# after a find: what an intruder types first on a new foothold (command, bytes of output)
FOLLOW_UP = [("id", 70), ("uname -a", 115), ("w", 260), ("cat /etc/passwd", 1650), ("sudo -l", 180),
             ("ls -la /home", 320), ("cat ~/.bash_history", 900)]
FOLLOW_THINK = (1.5, 8.0)

# timing: client gap between attempts, PAM's failure delay (2 s +-25 %), acceptance
GAP = (0.0005, 0.004)
FAIL = (1.5, 2.6)
ACCEPT = (0.02, 0.1)
SETUP_MAX = 0.12  # handshake, key exchange, service request, "none" probe
OVERHEAD = 0.0025  # Synth's per-message time (ACK half an RTT, serialisation), generous

_USER = re.compile(r"^[a-z_][a-z0-9_.-]{0,31}$")


class Params(Strict):
    tool: Literal["hydra", "medusa"] = Field(default="hydra", description="hydra (libssh) or medusa (libssh2)")
    attempts: int = Field(default=60, ge=1, le=5000, description="passwords tried in all")
    per_connection: int = Field(default=6, ge=1, description="attempts per TCP connection (sshd allows 6)")
    tasks: int = Field(default=4, ge=1, le=16, description="parallel connections (hydra -t)")
    delay: float = Field(default=0.0, ge=0, le=60, description="seconds each task waits between connections (hydra -W)")
    usernames: list[str] | None = Field(default=None, min_length=1, max_length=50,
                                        description="logins to try; default root, admin and a staff login")
    loop_users: bool = Field(default=False, description="try each password on every login first (hydra -u)")
    success_at: int | None = Field(default=None, ge=1, le=5000, description="the attempt (1-based) that succeeds")

    @field_validator("per_connection")
    @classmethod
    def _max_auth_tries(cls, v: int) -> int:
        if v > _ssh.MAX_AUTH_TRIES:
            raise ValueError(f"{v} attempts per connection is more than sshd allows: MaxAuthTries "
                             f"({_ssh.MAX_AUTH_TRIES}) closes the connection after the 6th failure")
        return v

    @field_validator("usernames")
    @classmethod
    def _logins(cls, v: list[str] | None) -> list[str] | None:
        for u in v or []:
            if not _USER.match(u):
                raise ValueError(f"{u!r} is not a Unix login name (lower case letters, digits, '_', '-', '.')")
        return v

    @model_validator(mode="after")
    def _success_in_range(self) -> "Params":
        if self.success_at is not None and self.success_at > self.attempts:
            raise ValueError(f"success_at {self.success_at} is after the last attempt ({self.attempts})")
        return self


def pairs(n_users: int, attempts: int, loop_users: bool) -> list[tuple[int, int]]:
    """(user index, password index) in the tool's order, ``attempts`` of them split evenly over
    the logins: each login's passwords in turn (hydra's default), or each password on every
    login (``-u``)."""
    out: list[tuple[int, int]] = []
    per_user = -(-attempts // n_users)
    if loop_users:
        for p in range(per_user):
            for u in range(n_users):
                out.append((u, p))
    else:
        for u in range(n_users):
            for p in range(per_user):
                out.append((u, p))
    return out[:attempts]


def connections(plan: list[tuple[int, int]], per_connection: int) -> list[list[tuple[int, int]]]:
    """Consecutive attempts grouped into connections: sshd refuses a change of user mid-connection."""
    groups: list[list[tuple[int, int]]] = []
    for pair in plan:
        if groups and len(groups[-1]) < per_connection and groups[-1][-1][0] == pair[0]:
            groups[-1].append(pair)
        else:
            groups.append([pair])
    return groups


def password(i: int) -> str:
    """The ``i``-th guess: the wordlist, then the wordlist again with common suffixes."""
    rounds, k = divmod(i, len(PASSWORDS))
    extra = str(rounds // len(_SUFFIXES)) if rounds >= len(_SUFFIXES) else ""
    return PASSWORDS[k] + _SUFFIXES[rounds % len(_SUFFIXES)] + extra


def _session_max(k: int) -> float:
    msgs = 10 + 2 * k
    return SETUP_MAX + k * (GAP[1] + FAIL[1]) + msgs * OVERHEAD + 0.01


def _follow_up_max() -> float:
    chars = sum(len(c) for c, _ in FOLLOW_UP)
    out = int(sum(o for _, o in FOLLOW_UP) * 1.1) + 30 * len(FOLLOW_UP)
    return 12.0 + _ssh.interactive_bound(len(FOLLOW_UP), chars, out, False, FOLLOW_THINK)


@technique
class SshBruteforce(Technique):
    name = "ssh_bruteforce"
    attack = "T1110.001"
    tactic = "credential-access"
    summary = "hydra/medusa SSH password guessing against OpenSSH"
    Params = Params
    target_services = ("ssh",)

    def duration(self, p: Params) -> float:
        n_users = len(p.usernames) if p.usernames else 3
        groups = connections(pairs(n_users, p.attempts, p.loop_users), p.per_connection)
        m = _session_max(p.per_connection) + p.delay + 0.02
        total = (len(groups) / p.tasks + 1) * m + 0.03 * p.tasks + 0.5
        if p.success_at is not None:
            total += _follow_up_max()
        return total

    def generate(self, ctx: StepContext):
        p: Params = ctx.params
        users = list(p.usernames) if p.usernames else ["root", "admin", login_name(ctx.names)]
        found = human_password(ctx.rng)
        if p.success_at is not None:  # the live range creates the account the guess will find
            pos = pairs(len(users), p.attempts, p.loop_users)[p.success_at - 1]
            ctx.extra.setdefault("accounts", []).extend((t.name, users[pos[0]], found) for t in ctx.targets)
        notes: list[tuple] = []

        def build(pace: float) -> list[TcpSession]:
            notes.clear()  # fit may build more than once: the log is of the sessions it keeps
            return self._build(ctx, users, found, pace, notes)

        sessions = fit(build, ctx.rng, ctx.t0, self.duration(p))
        self._log(ctx, p.success_at is not None, notes, (_ssh.LIBSSH if p.tool == "hydra" else _ssh.LIBSSH2))
        return sessions

    @staticmethod
    def _log(ctx: StepContext, found: bool, notes: list[tuple], client: _ssh.Client) -> None:
        """sshd's lines on each target, for the connections as built (see the module docstring)."""
        existing = {"root"}
        if found:
            existing |= {u for _node, u, _pw in ctx.extra.get("accounts", [])}
        daemons = {t.name: _linux.Sshd(ctx.host, ctx.layout, t) for t in ctx.targets}
        for target, sess, user, marks, follow_up in sorted(notes, key=lambda n: n[1].t):  # sshd forks in turn
            sshd = daemons[target.name]
            if follow_up:  # the intruder's own login with the found password
                _linux.session_log(sshd, sess, marks, user, sudoer=False)
                continue
            times = message_times(sess)
            pid = sshd.connection()
            valid = user in existing
            src, sport = sess.client, sess.sport
            failures = 0
            for i, what, _detail in marks:
                t = times[i]
                if what == "probe" and not valid:
                    sshd.say(t, pid, f"Invalid user {user} from {src} port {sport}")
                elif what == "failed":
                    sshd.failed(t, pid, user, src, sport, valid=valid, first=failures == 0)
                    failures += 1
                elif what == "maxauth":
                    who = f"{'' if valid else 'invalid user '}{user}"
                    sshd.say(t, pid, f"error: maximum authentication attempts exceeded for {who} from {src} "
                             f"port {sport} ssh2 [preauth]", severity="err")
                    sshd.say(t + 0.0002, pid, f"Disconnecting {'authenticating' if valid else 'invalid'} user "
                             f"{user} {src} port {sport}: Too many authentication failures [preauth]")
                    if valid and failures > 1:
                        sshd.say(t + 0.0005, pid, f"PAM {failures - 1} more authentication failures; logname= uid=0 "
                                 f"euid=0 tty=ssh ruser= rhost={src}  user={user}", severity="notice",
                                 facility="authpriv")
                elif what == "accepted":
                    login = sshd.accepted(t, pid, user, src, sport, "password")
                    sshd.closed(times[-1], login, client.disconnect_text)
                elif what == "bye":
                    sshd.say(t, pid, f"Received disconnect from {src} port {sport}:11: {client.disconnect_text} "
                             "[preauth]")
                    sshd.say(t + 0.0002, pid, f"Disconnected from {'authenticating' if valid else 'invalid'} user "
                             f"{user} {src} port {sport} [preauth]")

    def _build(self, ctx: StepContext, users: list[str], found: str, pace: float,
               notes: list[tuple]) -> list[TcpSession]:
        p: Params = ctx.params
        r = ctx.rng
        client = _ssh.LIBSSH if p.tool == "hydra" else _ssh.LIBSSH2
        plan = pairs(len(users), p.attempts, p.loop_users)
        groups = connections(plan, p.per_connection)
        out: list[TcpSession] = []
        used_ports: set[int] = set()

        def port() -> int:
            while True:
                sp = ephemeral_port(r)
                if sp not in used_ports:
                    used_ports.add(sp)
                    return sp

        for target in ctx.targets:
            keys = _ssh.host_keys(ctx.layout, target)
            rtt = r.uniform(0.0003, 0.0012)
            free = [(ctx.t0 + i * r.uniform(0.002, 0.03) * pace, i) for i in range(p.tasks)]
            heapq.heapify(free)
            attempt_no = 0
            success_end: float | None = None
            for group in groups:
                start, task = heapq.heappop(free)
                first_no = attempt_no + 1
                attempt_no += len(group)
                if success_end is not None and start >= success_end:
                    break  # -f: no new connection once a password was found
                hit = None
                if p.success_at is not None and first_no <= p.success_at <= attempt_no:
                    hit = p.success_at - first_no
                user = users[group[0][0]]
                tries = [found if i == hit else password(pw) for i, (_, pw) in enumerate(group)]
                sess, marks = self._connection(r, client, keys, ctx.source.ip, target.ip, port(), start, rtt, user,
                                               tries, hit, pace)
                out.append(sess)
                notes.append((target, sess, user, marks, False))
                end = session_end(sess)
                if hit is not None:
                    success_end = end
                    follow_t = end + r.uniform(3.0, 12.0) * pace
                    talk = _ssh.interactive(r, _ssh.OPENSSH, keys, user, found,
                                            [(c, int(o * r.uniform(0.9, 1.1))) for c, o in FOLLOW_UP],
                                            pace=pace, think=FOLLOW_THINK, hostname=target.hostname)
                    out.append(TcpSession(t=follow_t, client=ctx.source.ip, server=target.ip, sport=port(), dport=22,
                                          messages=talk.messages, close="client_fin", rtt=rtt))
                    notes.append((target, out[-1], user, talk.marks, True))
                heapq.heappush(free, (end + (p.delay + r.uniform(0.0005, 0.02)) * pace, task))
        return out

    @staticmethod
    def _connection(r, client: _ssh.Client, keys, src: str, dst: str, sport: int, start: float, rtt: float,
                    user: str, tries: list[str], hit: int | None,
                    pace: float) -> tuple[TcpSession, list[tuple[int, str, str | None]]]:
        """One connection, and what sshd did at which of its messages (``probe``: the ``none``
        request answered, ``failed``, ``maxauth``, ``accepted``, ``bye``: the tool hung up)."""
        t = _ssh.Talk(r, client, keys, pace)
        t.handshake()
        t.say(t.wait(0.0003, 0.002), "c", _ssh.auth_none(user))
        t.say(t.wait(0.0003, 0.002), "s", _ssh.auth_failure())
        t.mark("probe")
        close = "client_fin"
        for i, pw in enumerate(tries):
            t.say(t.wait(*GAP), "c", _ssh.auth_password(user, pw))
            if i == hit:
                t.say(t.wait(*ACCEPT), "s", _ssh.auth_success())
                t.mark("accepted")
                break
            if i + 1 >= _ssh.MAX_AUTH_TRIES:
                t.say(t.wait(*FAIL), "s", _ssh.disconnect(_ssh.PROTOCOL_ERROR, "Too many authentication failures"))
                t.mark("failed")
                t.mark("maxauth")
                close = "server_fin"
                break
            t.say(t.wait(*FAIL), "s", _ssh.auth_failure())
            t.mark("failed")
        if close == "client_fin":
            t.say(t.wait(0.0003, 0.003), "c", _ssh.disconnect(_ssh.BY_APPLICATION, client.disconnect_text))
            if hit is None:
                t.mark("bye")
        return TcpSession(t=start, client=src, server=dst, sport=sport, dport=22, messages=t.messages,
                          close=close, rtt=rtt), t.marks

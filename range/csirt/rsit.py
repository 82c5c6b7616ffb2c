"""The Reference Security Incident Taxonomy (RSIT) as data, and what each attack technique of the
library is, in its terms.

RSIT is the TF-CSIRT / ENISA taxonomy ("Reference Security Incident Classification Taxonomy",
working copy 1003, as the MISP ``rsit`` taxonomy carries it): eleven classes, each with types.
A class and a type are named by their machine values (``information-gathering`` /
``scanner``), which are also the MISP machine tags (``rsit:information-gathering="scanner"``);
their names (``Information Gathering / Scanning``) are what people read.

:data:`TECHNIQUES` maps every technique of ``attack_scripts/`` to the RSIT class/type pairs a
report on it is graded against (the first is the preferred one; any listed pair is right), to
how the step's events name the attacker and the affected hosts, and to the indicator kinds its
ground truth holds (see :mod:`range.csirt.answerkey`).
"""
from __future__ import annotations

from dataclasses import dataclass

from range.core import InputError

# class value -> (class name, {type value: type name})
TAXONOMY: dict[str, tuple[str, dict[str, str]]] = {
    "abusive-content": ("Abusive Content", {
        "spam": "Spam", "harmful-speech": "Harmful Speech",
        "violence": "(Child) Sexual Exploitation/Sexual/Violent Content"}),
    "malicious-code": ("Malicious Code", {
        "infected-system": "Infected system", "c2-server": "C2 server",
        "malware-distribution": "Malware distribution", "malware-configuration": "Malware configuration"}),
    "information-gathering": ("Information Gathering", {
        "scanner": "Scanning", "sniffing": "Sniffing", "social-engineering": "Social Engineering"}),
    "intrusion-attempts": ("Intrusion Attempts", {
        "ids-alert": "Exploitation of known vulnerabilities", "brute-force": "Login attempts",
        "exploit": "New attack signature"}),
    "intrusions": ("Intrusions", {
        "privileged-account-compromise": "Privileged account compromise",
        "unprivileged-account-compromise": "Unprivileged account compromise",
        "application-compromise": "Application compromise", "system-compromise": "System compromise",
        "burglary": "Burglary"}),
    "availability": ("Availability", {
        "dos": "DoS", "ddos": "DDoS", "misconfiguration": "Misconfiguration", "sabotage": "Sabotage",
        "outage": "Outage"}),
    "information-content-security": ("Information Content Security", {
        "unauthorised-information-access": "Unauthorised access to information",
        "unauthorised-information-modification": "Unauthorised modification of information",
        "data-loss": "Data loss", "data-leak": "Leak of confidential information"}),
    "fraud": ("Fraud", {
        "unauthorised-use-of-resources": "Unauthorised use of resources", "copyright": "Copyright",
        "masquerade": "Masquerade", "phishing": "Phishing"}),
    "vulnerable": ("Vulnerable", {
        "weak-crypto": "Weak cryptography", "ddos-amplifier": "DDoS amplifier",
        "potentially-unwanted-accessible": "Potentially unwanted accessible services",
        "information-disclosure": "Information disclosure", "vulnerable-system": "Vulnerable system"}),
    "other": ("Other", {"other": "Uncategorised", "undetermined": "Undetermined"}),
    "test": ("Test", {"test": "Test"}),
}

# ATT&CK names of the techniques the library plays (for exports and the after-action report)
ATTACK_NAMES = {
    "T1018": "Remote System Discovery", "T1046": "Network Service Discovery",
    "T1048.003": "Exfiltration Over Unencrypted Non-C2 Protocol", "T1071.001": "Web Protocols",
    "T1071.004": "DNS", "T1095": "Non-Application Layer Protocol", "T1110.001": "Password Guessing",
    "T1190": "Exploit Public-Facing Application", "T1498.001": "Direct Network Flood",
    "T1505.003": "Web Shell", "T1552": "Unsecured Credentials", "T1557.002": "ARP Cache Poisoning",
    "T1568.002": "Domain Generation Algorithms", "T1059.004": "Unix Shell",
    "T1548.003": "Sudo and Sudo Caching", "T1003.008": "/etc/passwd and /etc/shadow", "T1552.003": "Bash History",
    "T1552.004": "Private Keys", "T1053.003": "Cron", "T1543.002": "Systemd Service",
    "T1098.004": "SSH Authorized Keys", "T1070.002": "Clear Linux or Mac System Logs",
    "T1070.003": "Clear Command History", "T1070.006": "Timestomp", "T1074.001": "Local Data Staging",
    "T1560.001": "Archive via Utility",
}


@dataclass(frozen=True)
class Expectation:
    """How a technique is graded. ``attacker``/``affected`` say where the step's events name them:
    ``orig`` (the connections' originator), ``resp`` (their responder, DNS lookups left out),
    ``arp`` (the host behind a forged ARP reply's MAC / the poisoned and impersonated hosts),
    ``both`` or None (the step has no such address). ``indicators`` are the kinds its ground truth
    holds besides addresses: ``domain``, ``url``, ``user_agent``."""
    rsit: tuple[tuple[str, str], ...]
    attacker: str | None
    affected: str
    indicators: tuple[str, ...] = ()


TECHNIQUES: dict[str, Expectation] = {
    "syn_scan": Expectation((("information-gathering", "scanner"),), "orig", "resp"),
    "ping_sweep": Expectation((("information-gathering", "scanner"),), "orig", "resp"),
    "arp_spoof": Expectation((("information-gathering", "sniffing"), ("fraud", "masquerade"),
                              ("information-content-security", "unauthorised-information-access")), "arp", "arp"),
    "ssh_bruteforce": Expectation((("intrusion-attempts", "brute-force"),
                                   ("intrusions", "unprivileged-account-compromise"),
                                   ("intrusions", "privileged-account-compromise")), "orig", "resp"),
    "http_sqli": Expectation((("intrusion-attempts", "ids-alert"), ("intrusions", "application-compromise"),
                              ("information-content-security", "unauthorised-information-access")),
                             "orig", "resp", ("url", "user_agent")),
    "webshell": Expectation((("intrusions", "system-compromise"), ("intrusions", "application-compromise"),
                             ("malicious-code", "infected-system")), "orig", "resp", ("url", "user_agent")),
    "dns_tunnel_exfil": Expectation((("information-content-security", "data-leak"),
                                     ("information-content-security", "unauthorised-information-access"),
                                     ("malicious-code", "infected-system")), None, "orig", ("domain",)),
    "http_c2_beacon": Expectation((("malicious-code", "c2-server"), ("malicious-code", "infected-system")),
                                  "resp", "orig", ("domain", "url", "user_agent")),
    "syn_flood": Expectation((("availability", "ddos"), ("availability", "dos")), "orig", "resp"),
    "icmp_tunnel": Expectation((("malicious-code", "c2-server"), ("malicious-code", "infected-system")),
                               "resp", "orig"),
    "cleartext_credentials": Expectation((("vulnerable", "weak-crypto"),
                                          ("vulnerable", "potentially-unwanted-accessible"),
                                          ("information-content-security", "unauthorised-information-access")),
                                         None, "both"),
    "dga_lookups": Expectation((("malicious-code", "infected-system"), ("malicious-code", "c2-server")),
                               "resp", "orig", ("domain",)),
    # a host technique's connection is the target calling the intruder back: the intruder is its responder
    "reverse_shell": Expectation((("intrusions", "system-compromise"), ("intrusions", "application-compromise"),
                                  ("malicious-code", "c2-server")), "resp", "orig"),
    "sudo_privesc": Expectation((("intrusions", "privileged-account-compromise"),
                                 ("intrusions", "system-compromise")), "resp", "orig"),
    "credential_access": Expectation((("information-content-security", "unauthorised-information-access"),
                                      ("intrusions", "privileged-account-compromise")), "resp", "orig"),
    "persistence": Expectation((("intrusions", "system-compromise"), ("malicious-code", "infected-system")),
                               "resp", "orig"),
    "log_tampering": Expectation((("intrusions", "system-compromise"),), "resp", "orig"),
    "stage_exfil": Expectation((("information-content-security", "data-leak"),
                                ("information-content-security", "unauthorised-information-access")), "resp", "orig"),
}


def classes() -> list[dict]:
    """The taxonomy for forms and the API: classes with their types, names and MISP tags."""
    return [{"value": c, "name": name, "types": [{"value": t, "name": tn, "tag": tag(c, t)}
                                                  for t, tn in types.items()]}
            for c, (name, types) in TAXONOMY.items()]


def check(cls: object, typ: object, field: str = "classification") -> tuple[str, str]:
    """A (class, type) pair by machine value; anything else is an InputError naming the field."""
    if cls is None or cls == "":
        raise InputError(f"'{field}.class' is required: choose an RSIT class ({', '.join(TAXONOMY)}), then a type")
    if not isinstance(cls, str) or cls not in TAXONOMY:
        raise InputError(f"'{field}.class' must be an RSIT class: {', '.join(TAXONOMY)} (got {cls!r})")
    types = TAXONOMY[cls][1]
    if typ is None or typ == "":
        raise InputError(f"'{field}.type' is required: choose a type of RSIT class {cls!r}: {', '.join(types)}")
    if not isinstance(typ, str) or typ not in types:
        raise InputError(f"'{field}.type' must be a type of RSIT class {cls!r}: {', '.join(types)} (got {typ!r})")
    return cls, typ


def label(cls: str, typ: str | None = None) -> str:
    """``Information Gathering / Scanning``."""
    name, types = TAXONOMY[cls]
    return f"{name} / {types[typ]}" if typ else name


def tag(cls: str, typ: str) -> str:
    """The MISP machine tag: ``rsit:information-gathering="scanner"``."""
    return f'rsit:{cls}="{typ}"'


def expected(technique: str) -> Expectation:
    try:
        return TECHNIQUES[technique]
    except KeyError:
        # a technique added to the library without a mapping is graded as "Other / Uncategorised"
        return Expectation((("other", "other"),), None, "both")


def attack_name(attack_id: str) -> str:
    return ATTACK_NAMES.get(attack_id, "")

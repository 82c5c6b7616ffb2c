"""Per-team credentials: login names as a Debian ``adduser`` makes them, passwords people choose."""
from __future__ import annotations

_WORDS = ["Tirana", "Prishtina", "Beograd", "Skopje", "Podgorica", "Sarajevo", "Ministria", "Ministry", "Welcome",
          "Office", "Summer", "Winter", "Autumn", "Dragon", "Football", "Partizan", "Vllaznia", "Dukagjini",
          "Adriatik", "Drini", "Durres", "Ohrid", "Kosova", "Shqiperia", "Arber", "Teuta", "Qershor", "Nentor"]


def login_name(names) -> str:
    """``arben.hoxha`` (from :meth:`range.traffic.Names.username`) becomes ``ahoxha``."""
    first, _, last = names.username().partition(".")
    return (first[:1] + last)[:32]


def human_password(rng) -> str:
    """A password a person picks to satisfy a complexity policy: word, digits, a symbol."""
    word = rng.choice(_WORDS)
    if rng.random() < 0.3:
        word = word.replace("a", "@", 1).replace("o", "0", 1)
    digits = rng.choice([str(rng.randint(2019, 2026)), str(rng.randint(1, 99)).zfill(2), str(rng.randint(100, 9999))])
    return word + digits + rng.choice(["!", "#", ".", "*", "", "$", "!"])


def mistyped(rng, password: str) -> str:
    """The same password typed wrong: last character missing, last year's digits, Caps Lock."""
    kind = rng.randrange(4)
    if kind == 0 and len(password) > 4:
        return password[:-1]
    if kind == 1 and any(c.isdigit() for c in password):
        i = max(i for i, c in enumerate(password) if c.isdigit())
        return password[:i] + str((int(password[i]) - 1) % 10) + password[i + 1:]
    if kind == 2:
        return password.swapcase()
    return password + rng.choice("!1.")

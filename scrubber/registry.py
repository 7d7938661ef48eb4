"""The one lookup both registries (detectors, identifier recognizers) and the policy use:
names in, entries out, in order; an unknown or repeated name stops the run with the valid
names listed (Presidio only warns)."""

from __future__ import annotations

from typing import Iterable, Mapping, TypeVar

T = TypeVar("T")


def pick(names: Iterable[str], table: Mapping[str, T], error: type[Exception], what: str) -> list[T]:
    seen: set[str] = set()
    out = []
    for name in names:
        if name not in table:
            raise error(f"unknown {what} '{name}' (valid: {', '.join(sorted(table))})")
        if name in seen:
            raise error(f"{what} '{name}' listed twice")
        seen.add(name)
        out.append(table[name])
    return out

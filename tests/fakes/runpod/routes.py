"""Which function answers which request: a table of (method, path pattern) per resource module.

Each resource module (`pods`, `catalog`, `serverless`, `volumes`, `logs`) registers its routes; a
route gets the path's groups, the query, the parsed body and the fault that fits the request (for options
only a route can honour, such as a create landing late). It returns (status, JSON body or None) or raises
`Problem`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tests.fakes.runpod.faults import Fault
from tests.fakes.runpod.problem import Problem

__all__ = ["Request", "Route", "Router"]


@dataclass(frozen=True)
class Request:
    """What a route sees of one call."""

    groups: tuple[str, ...]
    query: dict[str, list[str]]
    body: Any
    fault: Fault | None = None
    headers: Mapping[str, str] = field(default_factory=dict)

    def param(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else default


Route = Callable[[Request], tuple[int, Any]]


@dataclass
class Router:
    routes: list[tuple[str, re.Pattern[str], Route]] = field(default_factory=list)

    def add(self, method: str, pattern: str, route: Route) -> None:
        self.routes.append((method, re.compile(pattern), route))

    def route(self, method: str, path: str, query: dict[str, list[str]], body: Any,
              fault: Fault | None = None, headers: Mapping[str, str] | None = None) -> tuple[int, Any]:
        known_path = False
        for verb, pattern, route in self.routes:
            match = pattern.fullmatch(path)
            if match is None:
                continue
            known_path = True
            if verb == method:
                return route(Request(match.groups(), query, body, fault, headers or {}))
        if known_path:
            raise Problem(405, "The requested method is not allowed for this path.")
        raise Problem(404, "resource not found")

"""Route matching as API Gateway does it: static segment > {param} > greedy {proxy+} > $default, exact method > ANY."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

STATIC, PARAM, GREEDY = 0, 1, 2
DEFAULT_ROUTE = "$default"  # an HTTP API's catch-all route: any method, any path, tried last
_PAYLOAD = {"Api": "1.0", "HttpApi": "2.0"}


@dataclass(frozen=True)
class Route:
    path: str  # the resource path as declared, e.g. /users/{id}/{proxy+}
    method: str  # upper case, or ANY
    function: str
    event: str  # the API's kind: Api (REST) | HttpApi
    api: str
    auth: bool = False  # an older routing.yml's `auth: true`: the box login guards the route
    payload: str = ""  # "1.0" | "2.0"; empty: the kind's default (REST 1.0, HTTP API 2.0)
    authorizer: str = ""  # the name of one of its API's authorizers; empty: an open route
    api_key: bool = False  # ApiKeyRequired: x-api-key must carry a known key
    scopes: tuple[str, ...] = ()  # AuthorizationScopes a JWT must carry one of

    @property
    def payload_version(self) -> str:
        return self.payload or _PAYLOAD.get(self.event, "1.0")

    @property
    def is_default(self) -> bool:
        return self.path == DEFAULT_ROUTE


@dataclass(frozen=True)
class Match:
    route: Route
    params: dict[str, str]


@dataclass(frozen=True)
class NoMatch:
    """No route for the request: `allowed` is empty for an unknown path, else the methods of the path.

    `kinds` are the API kinds (Api, HttpApi) of the routes whose path matched.
    """

    allowed: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Compiled:
    route: Route
    kinds: tuple[int, ...]
    names: tuple[str, ...]  # the static text or the parameter name, per segment

    @property
    def sort_key(self) -> tuple:
        # Segment-wise comparison puts static before parameter before greedy at the first
        # difference; then an exact method wins over ANY; the path keeps the order stable.
        return (self.route.is_default, self.kinds, self.route.method == "ANY", self.route.path)


def split_path(path: str) -> list[str]:
    """Path segments; a trailing slash is ignored, and '/' has no segments."""
    parts = path.strip("/").split("/")
    return [] if parts == [""] else parts


def _compile(route: Route) -> _Compiled:
    kinds: list[int] = []
    names: list[str] = []
    segments = [] if route.is_default else split_path(route.path)
    for index, segment in enumerate(segments):
        if segment.startswith("{") and segment.endswith("+}"):
            if index != len(segments) - 1:
                raise ValueError(f"greedy parameter must be the last segment: {route.path}")
            kinds.append(GREEDY)
            names.append(segment[1:-2])
        elif segment.startswith("{") and segment.endswith("}"):
            kinds.append(PARAM)
            names.append(segment[1:-1])
        else:
            kinds.append(STATIC)
            names.append(segment)
    return _Compiled(route, tuple(kinds), tuple(names))


def _match_path(compiled: _Compiled, segments: list[str]) -> dict[str, str] | None:
    if compiled.route.is_default:
        return {}
    kinds, names = compiled.kinds, compiled.names
    greedy = bool(kinds) and kinds[-1] == GREEDY
    if greedy:
        if len(segments) < len(kinds):
            return None
    elif len(segments) != len(kinds):
        return None
    params: dict[str, str] = {}
    for index, kind in enumerate(kinds):
        segment = segments[index]
        if kind == STATIC:
            if segment != names[index]:
                return None
        elif kind == PARAM:
            if not segment:
                return None
            params[names[index]] = segment
        else:
            params[names[index]] = "/".join(segments[index:])
    return params


@dataclass(frozen=True)
class Router:
    """An immutable, pre-sorted route list; swapped whole on reload so requests in flight are unaffected."""

    routes: tuple[Route, ...] = ()
    _compiled: tuple[_Compiled, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        compiled = sorted((_compile(r) for r in self.routes), key=lambda c: c.sort_key)
        object.__setattr__(self, "_compiled", tuple(compiled))

    @classmethod
    def of(cls, routes: Iterable[Route]) -> "Router":
        return cls(tuple(routes))

    def match(self, method: str, path: str) -> Match | NoMatch:
        segments = split_path(path)
        allowed: set[str] = set()
        kinds: set[str] = set()
        apis: set[str] = set()
        for compiled in self._compiled:
            params = _match_path(compiled, segments)
            if params is None:
                continue
            route = compiled.route
            if route.is_default and apis and route.api not in apis:
                # One host serves every API: a path another API declares stays that API's (on AWS they
                # have separate hosts), so its $default does not take the other API's wrong methods.
                continue
            if route.method == method or route.method == "ANY":
                return Match(route, params)
            allowed.add(route.method)
            kinds.add(route.event)
            apis.add(route.api)
        return NoMatch(tuple(sorted(allowed)), tuple(sorted(kinds)))

    def match_path(self, path: str) -> Match | None:
        """The most specific route for a path whatever its method (used to find an API's CORS rules)."""
        segments = split_path(path)
        for compiled in self._compiled:
            params = _match_path(compiled, segments)
            if params is not None:
                return Match(compiled.route, params)
        return None

    def methods_of(self, api: str, path: str) -> tuple[str, ...]:
        """The methods declared for one resource path of one API (SAM lists them in CORS preflights)."""
        return tuple(sorted({r.method for r in self.routes if r.api == api and r.path == path}))

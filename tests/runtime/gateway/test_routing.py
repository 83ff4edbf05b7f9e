"""Route precedence and 404/405 decisions of the gateway router."""

from __future__ import annotations

import pytest

from esb_runtime.gateway.routing import Match, NoMatch, Route, Router, split_path


def route(path: str, method: str = "GET", function: str = "fn") -> Route:
    return Route(path=path, method=method, function=function, event="Api", api="Api1")


ROUTER = Router.of([
    route("/{proxy+}", "ANY", "greedy"),
    route("/users/{id}", "GET", "user-param"),
    route("/users/me", "GET", "user-static"),
    route("/users/{id}/{proxy+}", "ANY", "user-greedy"),
    route("/users/{id}", "ANY", "user-any"),
    route("/items", "POST", "items-post"),
    route("/", "GET", "root"),
    route("/files/{key}", "PUT", "files-put"),
])


@pytest.mark.parametrize(
    ("method", "path", "function", "params"),
    [
        ("GET", "/users/me", "user-static", {}),
        ("GET", "/users/42", "user-param", {"id": "42"}),
        ("DELETE", "/users/42", "user-any", {"id": "42"}),
        ("GET", "/users/42/orders/7", "user-greedy", {"id": "42", "proxy": "orders/7"}),
        ("GET", "/anything/else", "greedy", {"proxy": "anything/else"}),
        ("GET", "/", "root", {}),
        ("POST", "/items", "items-post", {}),
        ("GET", "/users/me/", "user-static", {}),
    ],
)
def test_most_specific_route_wins(method: str, path: str, function: str, params: dict[str, str]) -> None:
    match = ROUTER.match(method, path)
    assert isinstance(match, Match)
    assert match.route.function == function
    assert match.params == params


def test_greedy_falls_back_when_method_does_not_match_specific_route() -> None:
    match = ROUTER.match("GET", "/items")
    assert isinstance(match, Match) and match.route.function == "greedy"


def test_wrong_method_gives_allowed_methods() -> None:
    router = Router.of([route("/items", "POST"), route("/items", "PUT"), route("/other", "GET")])
    assert router.match("GET", "/items") == NoMatch(("POST", "PUT"), ("Api",))


def test_unknown_path_is_404() -> None:
    router = Router.of([route("/items", "GET")])
    assert router.match("GET", "/nope") == NoMatch(())


def test_greedy_does_not_match_root() -> None:
    router = Router.of([route("/{proxy+}", "ANY")])
    assert router.match("GET", "/") == NoMatch(())


def test_param_does_not_match_empty_segment_or_extra_segments() -> None:
    router = Router.of([route("/a/{x}", "GET")])
    assert isinstance(router.match("GET", "/a//"), NoMatch)
    assert isinstance(router.match("GET", "/a/b/c"), NoMatch)


def test_greedy_must_be_last() -> None:
    with pytest.raises(ValueError):
        Router.of([route("/{proxy+}/x")])


def test_split_path() -> None:
    assert split_path("/") == []
    assert split_path("/a/b/") == ["a", "b"]


def test_default_route_is_tried_last_and_matches_every_path() -> None:
    default = Route("$default", "ANY", "fallback", "HttpApi", "Http")
    router = Router.of([default, Route("/items", "GET", "fn", "HttpApi", "Http")])
    assert router.match("GET", "/items").route.function == "fn"  # type: ignore[union-attr]
    assert router.match("GET", "/") == Match(default, {})
    # Within its own API, $default takes a declared path's other methods, as on AWS.
    assert router.match("POST", "/items") == Match(default, {})


def test_default_route_leaves_another_apis_paths_alone() -> None:
    default = Route("$default", "ANY", "fallback", "HttpApi", "Http")
    router = Router.of([default, route("/rest", "POST")])
    assert router.match("GET", "/rest") == NoMatch(("POST",), ("Api",))
    assert router.match("GET", "/elsewhere") == Match(default, {})

"""The example generator.yml shipped in config/ stays valid for the project loader."""

from __future__ import annotations

from esb.paths import P
from esb.project import parse_generator


def test_example_generator_parses() -> None:
    path = P.config / "generator.example.yml"
    generator = parse_generator(path.read_text(encoding="utf-8"), str(path))
    assert generator.name == "my-app"
    assert dict(generator.parameters) == {"Stage": "dev"}
    assert generator.images.s3 == "embedded" and generator.ports.gateway == 8443
    assert (generator.breaker.failures, generator.breaker.window) == (3, 10.0)

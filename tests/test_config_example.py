"""The example generator.yml shipped in config/ stays valid for the project loader."""

from __future__ import annotations

import pytest

from esb.errors import ConfigError
from esb.paths import P
from esb.project import parse_generator


def test_example_generator_parses() -> None:
    path = P.config / "generator.example.yml"
    generator = parse_generator(path.read_text(encoding="utf-8"), str(path))
    assert generator.name == "my-app"
    assert dict(generator.parameters) == {"Stage": "dev"}
    assert generator.images.s3 == "embedded" and generator.ports.gateway == 8443
    assert generator.compat.seed_status_codes is False
    assert (generator.breaker.failures, generator.breaker.window) == (3, 10.0)
    assert (generator.engine, generator.ports.aws, generator.ports.aws_http) == ("auto", 4566, 0)


def test_compat_switch_reads_booleans_strictly() -> None:
    assert parse_generator("compat:\n  seed_status_codes: true\n", "g.yml").compat.seed_status_codes is True
    assert parse_generator("compat:\n  seed_status_codes: 'false'\n", "g.yml").compat.seed_status_codes is False
    with pytest.raises(ConfigError):
        parse_generator("compat:\n  seed_status_codes: maybe\n", "g.yml")
    with pytest.raises(ConfigError):
        parse_generator("compat:\n  unknown_switch: true\n", "g.yml")

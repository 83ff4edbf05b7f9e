"""The one exception tree of the toolchain; the CLI turns it into a message and an exit code."""

from __future__ import annotations


class EsbError(Exception):
    """Base of every error the toolchain reports to the user as one clear line."""

    exit_code = 1

    def __init__(self, message: str, *, where: str | None = None, hint: str | None = None,
                 quiet: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.where = where
        self.hint = hint
        self.quiet = quiet  # the command already said it on stdout; only the exit code carries it

    def __str__(self) -> str:
        text = f"{self.where}: {self.message}" if self.where else self.message
        return f"{text} ({self.hint})" if self.hint else text


class TemplateError(EsbError):
    """The SAM template or generator.yml cannot be read or resolved."""


class ConfigError(EsbError):
    """Project configuration (generator.yml, discovery, settings) is wrong."""


class BuildError(EsbError):
    """Rendering, staging, dependency installation or image building failed."""


class BoxError(EsbError):
    """Starting, stopping or talking to a running box failed."""


class NoBoxError(BoxError):
    """`status`, `down` or `logs` found no box (exit code 3, so scripts can tell it from a failure)."""

    exit_code = 3


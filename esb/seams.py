"""The toolchain's injectable seams, each named once: tests pass fakes, the defaults run the real thing."""

from __future__ import annotations

import subprocess
from typing import TYPE_CHECKING, Any, Callable, Sequence

if TYPE_CHECKING:
    import docker

ProcessRunner = Callable[..., "subprocess.CompletedProcess[str]"]  # subprocess.run-like: returns the finished process
CommandRunner = Callable[[Sequence[str]], None]  # runs an argument list, raises BuildError when it fails
DockerClientFactory = Callable[[], "docker.DockerClient"]
AwsClientFactory = Callable[[str, str], Any]  # (service, endpoint) -> a boto3 client

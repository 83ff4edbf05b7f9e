"""Tests that need an external tool: skip with a reason where it is absent, never under CI (which installs it)."""

from __future__ import annotations

import os

import pytest


def need_tool(present: bool, reason: str) -> None:
    """Skip when `present` is false; under CI as root, fail instead: `.ci/run` installs every tool the tests use."""
    if present:
        return
    if os.environ.get("CI") and os.geteuid() == 0:
        pytest.fail(f"{reason}, but .ci/run should have installed it")
    pytest.skip(reason)


# What building aws-lambda-ric's native addon needs (Node.js functions); .ci/node-setup.sh installs them.
NODE_BUILD_TOOLS = ("node", "npm", "g++", "make", "cmake", "autoconf", "automake", "libtoolize")


def need_node_build_tools() -> None:
    import shutil

    missing = [tool for tool in NODE_BUILD_TOOLS if shutil.which(tool) is None]
    need_tool(not missing, f"Node.js functions need {', '.join(missing)} (aws-lambda-ric's native build; "
                           ".ci/node-setup.sh installs them)")

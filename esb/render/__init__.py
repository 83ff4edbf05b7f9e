"""Pure render functions: a resolved Application in, the bytes of one output file out."""

from __future__ import annotations

from esb.render.compose import render_compose, render_runtime_dockerfile
from esb.render.dockerfile import render_dockerfile
from esb.render.functions import render_functions
from esb.render.routing import render_routing

__all__ = ["render_compose", "render_dockerfile", "render_functions", "render_routing", "render_runtime_dockerfile"]

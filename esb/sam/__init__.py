"""SAM template loading: YAML with CloudFormation tags, intrinsics, Globals, resources → esb.model."""

from __future__ import annotations

from esb.sam.loader import default_stack_name, load_application

__all__ = ["default_stack_name", "load_application"]

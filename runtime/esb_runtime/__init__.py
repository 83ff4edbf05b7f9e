"""Runtime of Edge Serverless Box: gateway, manager, sandboxes. Copied into every output tree."""

__version__ = "0.1.0"

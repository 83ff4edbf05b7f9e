"""Edge Serverless Box: the toolchain that turns a SAM template into a running box."""

__version__ = "0.1.0"

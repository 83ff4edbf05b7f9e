"""The runtime's exception tree; the gateway maps it to HTTP in one place."""

from __future__ import annotations


class RuntimeBoxError(Exception):
    """Base of runtime errors. `status` is the HTTP status the gateway answers with."""

    status = 500
    code = "ServiceException"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class EngineError(RuntimeBoxError):
    status = 503
    code = "SandboxStartFailed"


class FunctionNotFound(RuntimeBoxError):
    status = 404
    code = "ResourceNotFoundException"


class TooManyRequests(RuntimeBoxError):
    status = 429
    code = "TooManyRequestsException"


class PayloadTooLarge(RuntimeBoxError):
    status = 413
    code = "RequestEntityTooLargeException"


class ManagerUnavailable(RuntimeBoxError):
    status = 503
    code = "ServiceUnavailable"


class ManagerTimeout(ManagerUnavailable):
    """The manager did not answer within the caller's deadline (the invocation may still be running)."""


class CircuitOpen(RuntimeBoxError):
    """A function in a crash loop: refused at once, without starting a sandbox, until its window passes."""

    status = 502
    code = "FunctionCrashLoop"


class MalformedRequest(RuntimeBoxError):
    """The client broke HTTP/1.1 (a bad request line, header or body framing, or a size limit passed): a 4xx."""

    status = 400
    code = "BadRequest"

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status

"""Error replies: the OpenAI ``{"error": {...}}`` shape, and Azure's ``{code, message}`` one."""

from __future__ import annotations

import orjson

__all__ = ["ApiError", "azure_error", "error_body", "status_error"]


class ApiError(Exception):
    """An error answered in the OpenAI shape (or the Azure one, with ``azure=True``).

    ``headers`` are added to the reply (for example ``WWW-Authenticate`` on a 401).
    """

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
        azure: bool = False,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.param = param
        self.code = code
        self.azure = azure
        self.headers = dict(headers or {})

    def body(self) -> bytes:
        """The JSON error body."""
        if self.azure:
            return orjson.dumps({"error": {"code": self.code, "message": self.message}})
        return error_body(self.message, self.type, self.param, self.code)


def azure_error(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> ApiError:
    """An error in the Azure data-plane shape: ``{"error": {"code", "message"}}``."""
    return ApiError(status, message, code=code, azure=True, headers=headers)


def error_body(message: str, type: str, param: str | None, code: str | None) -> bytes:
    """``{"error": {"message", "type", "param", "code"}}`` as bytes."""
    return orjson.dumps({"error": {"message": message, "type": type, "param": param, "code": code}})


_STATUS_ERRORS: dict[int, tuple[str, str, str | None]] = {
    408: ("Request timed out.", "timeout", None),
    409: ("The request conflicts with another request.", "invalid_request_error", "conflict"),
    429: (
        "Rate limit reached for requests. Please try again later.",
        "requests",
        "rate_limit_exceeded",
    ),
    500: (
        "The server had an error while processing your request. Sorry about that!",
        "server_error",
        None,
    ),
    502: ("Bad gateway.", "server_error", None),
    503: ("The server is overloaded or not ready yet.", "server_error", None),
}


def status_error(status: int, message: str | None = None) -> ApiError:
    """A plausible OpenAI error for an arbitrary HTTP status."""
    default = _STATUS_ERRORS.get(status)
    if default is None:
        kind = "server_error" if status >= 500 else "invalid_request_error"
        default = (f"HTTP {status}.", kind, None)
    return ApiError(status, message or default[0], type=default[1], code=default[2])

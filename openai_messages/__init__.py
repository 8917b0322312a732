"""openai_messages: an async-first client for the OpenAI Assistants Messages API.

>>> import openai_messages as om
>>> om.Client  # doctest: +ELLIPSIS
<class 'openai_messages.client.Client'>
"""

from ._version import __version__
from .auth import CommandToken, CredentialToken, StaticToken, TokenSource
from .bulk import FetchProgress, ThreadChunk, ThreadResult, ThreadResults, ThreadStream
from .client import Client, WalkOptions, WithResponse
from .errors import (
    APIConnectionError,
    APIError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ClientClosedError,
    ConflictError,
    CreateOutcomeUnknownError,
    CredentialError,
    InternalServerError,
    InvalidArgumentError,
    NotFoundError,
    OpenAIMessagesError,
    PaginationError,
    PermissionDeniedError,
    RateLimitError,
    RedirectError,
    ResponseTooLargeError,
    StoredButUnreadableError,
    UnprocessableEntityError,
)
from .models import *  # noqa: F403
from .models import __all__ as _model_names
from .pagination import Pager
from .ratelimit import RateLimiter, RateLimits
from .retry import RetryBudget, RetryPolicy
from .transport import CallOptions, Response, Timeout
from .types import (
    ApiVersion,
    ImageDetail,
    IncompleteReason,
    MessageStatus,
    Open,
    Order,
    Role,
    UnknownType,
)

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIResponseValidationError",
    "APIStatusError",
    "APITimeoutError",
    "ApiVersion",
    "AuthenticationError",
    "BadRequestError",
    "CallOptions",
    "Client",
    "CommandToken",
    "CredentialToken",
    "ClientClosedError",
    "ConflictError",
    "CreateOutcomeUnknownError",
    "CredentialError",
    "FetchProgress",
    "ImageDetail",
    "IncompleteReason",
    "InternalServerError",
    "InvalidArgumentError",
    "MessageStatus",
    "NotFoundError",
    "Open",
    "OpenAIMessagesError",
    "Order",
    "Pager",
    "PaginationError",
    "PermissionDeniedError",
    "RateLimitError",
    "RateLimiter",
    "RateLimits",
    "RedirectError",
    "Response",
    "ResponseTooLargeError",
    "RetryBudget",
    "RetryPolicy",
    "Role",
    "StaticToken",
    "StoredButUnreadableError",
    "ThreadChunk",
    "ThreadResult",
    "ThreadResults",
    "ThreadStream",
    "Timeout",
    "TokenSource",
    "UnknownType",
    "UnprocessableEntityError",
    "WalkOptions",
    "WithResponse",
    "__version__",
    *_model_names,
]

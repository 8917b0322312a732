"""openai_messages: an async-first client for the OpenAI Assistants Messages API.

>>> import openai_messages as om
>>> om.Client  # doctest: +ELLIPSIS
<class 'openai_messages.client.Client'>
"""

from ._version import __version__
from .auth import CommandToken, CredentialToken, StaticToken, TokenSource
from .bulk import FetchProgress, ThreadChunk, ThreadResult, ThreadResults, ThreadStream
from .client import Client, ManyOptions, WalkOptions, WithResponse
from .conversation_mapping import AssistantMedia, conversation_items
from .conversation_models import *  # noqa: F403
from .conversation_models import __all__ as _conversation_model_names
from .conversations import (
    ConversationItems,
    Conversations,
    ConversationsWithResponse,
    ItemsWithResponse,
)
from .errors import *  # noqa: F403
from .errors import __all__ as _error_names
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
    "ApiVersion",
    "AssistantMedia",
    "CallOptions",
    "Client",
    "CommandToken",
    "ConversationItems",
    "Conversations",
    "ConversationsWithResponse",
    "conversation_items",
    "CredentialToken",
    "FetchProgress",
    "ImageDetail",
    "IncompleteReason",
    "ItemsWithResponse",
    "ManyOptions",
    "MessageStatus",
    "Open",
    "Order",
    "Pager",
    "RateLimiter",
    "RateLimits",
    "Response",
    "RetryBudget",
    "RetryPolicy",
    "Role",
    "StaticToken",
    "ThreadChunk",
    "ThreadResult",
    "ThreadResults",
    "ThreadStream",
    "Timeout",
    "TokenSource",
    "UnknownType",
    "WalkOptions",
    "WithResponse",
    "__version__",
    *_error_names,
    *_model_names,
    *_conversation_model_names,
]

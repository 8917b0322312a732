"""openai_messages: an async-first client for the OpenAI Assistants Messages API.

>>> import openai_messages as om
>>> om.Client  # doctest: +ELLIPSIS
<class 'openai_messages.client.Client'>
"""

from ._codec.conversation_models import *  # noqa: F403
from ._codec.conversation_models import __all__ as _conversation_model_names
from ._codec.models import *  # noqa: F403
from ._codec.models import __all__ as _model_names
from ._core.exchange import PreparedRequest
from ._core.retry import RetryBudget, RetryPolicy
from ._transport.mock import MockHandler, MockReply, MockSeam
from ._transport.retry_loop import CallOptions, Response, Timeout
from ._version import __version__
from ._walk.bulk import FetchProgress, ThreadChunk, ThreadResult, ThreadResults, ThreadStream
from ._walk.pagination import Pager
from ._walk.walking import ResponsePager
from .auth import CommandToken, CredentialToken, StaticToken, TokenSource
from .client import Client, InitialMessage, ManyOptions, WalkOptions, WithResponse
from .conversation_mapping import AssistantMedia, conversation_items
from .conversations import (
    ConversationItems,
    Conversations,
    ConversationsWithResponse,
    ItemsWithResponse,
)
from .errors import *  # noqa: F403
from .errors import __all__ as _error_names
from .ratelimit import RateLimiter, RateLimits
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
    "InitialMessage",
    "ItemsWithResponse",
    "ManyOptions",
    "MockHandler",
    "MockReply",
    "MockSeam",
    "MessageStatus",
    "Open",
    "Order",
    "Pager",
    "PreparedRequest",
    "RateLimiter",
    "RateLimits",
    "Response",
    "ResponsePager",
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

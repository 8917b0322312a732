"""openai_messages: an async-first client for the OpenAI Assistants Messages API.

>>> import openai_messages as om
>>> om.Client  # doctest: +ELLIPSIS
<class 'openai_messages.client.Client'>
"""

from typing import TYPE_CHECKING, Any, Final

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

_CONVERSATION_MODELS: Final = (
    "Conversation",
    "ConversationItem",
    "ConversationItemPage",
    "ConversationPage",
    "DeletedConversation",
    "InputFilePart",
    "InputImagePart",
    "InputTextPart",
    "ItemContent",
    "MessageItem",
    "OutputAnnotation",
    "OutputContainerFileCitation",
    "OutputFileCitation",
    "OutputFilePath",
    "OutputTextPart",
    "OutputUrlCitation",
    "RefusalPart",
    "UnknownItem",
    "UnknownOutputAnnotation",
    "UnknownPart",
)
"""The names of ``_codec.conversation_models.__all__`` (the conversation layer is loaded
on first use, see ``__getattr__``), as are its namespaces."""
_NAMESPACES: Final = (
    "ConversationItems",
    "Conversations",
    "ConversationsWithResponse",
    "ItemsWithResponse",
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
    *_CONVERSATION_MODELS,
]


if TYPE_CHECKING:
    from ._codec.conversation_models import *  # noqa: F403
    from .conversations import (
        ConversationItems,
        Conversations,
        ConversationsWithResponse,
        ItemsWithResponse,
    )
else:

    def __getattr__(name: str) -> Any:
        """The conversation layer's names, imported when first asked for (a client of
        threads alone never loads it: ``import openai_messages`` stays quick)."""
        if name in _NAMESPACES:
            from . import conversations as module
        elif name in _CONVERSATION_MODELS:
            from ._codec import conversation_models as module
        else:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        value = getattr(module, name)
        globals()[name] = value
        return value

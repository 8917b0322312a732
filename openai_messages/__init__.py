"""openai_messages: an async-first client for the OpenAI Assistants Messages API.

>>> import openai_messages as om
>>> om.Client  # doctest: +ELLIPSIS
<class 'openai_messages.client.Client'>
"""

import importlib
from typing import TYPE_CHECKING, Any, Final

from ._codec.models import *  # noqa: F403
from ._codec.models import __all__ as _model_names
from ._core.exchange import PreparedRequest
from ._core.retry import RetryBudget, RetryPolicy
from ._transport.retry_loop import CallOptions, Response, Timeout
from ._version import __version__
from ._walk.bulk import FetchProgress, ThreadChunk, ThreadResult, ThreadResults, ThreadStream
from ._walk.pagination import Pager
from ._walk.walking import ResponsePager
from .auth import CredentialToken, StaticToken, TokenSource
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

_CONVERSATION_MODEL_TEXT: Final = (
    "Conversation ConversationItem ConversationItemPage ConversationPage "
    "DeletedConversation InputFilePart InputImagePart InputTextPart ItemContent "
    "MessageItem OutputAnnotation OutputContainerFileCitation OutputFileCitation "
    "OutputFilePath OutputTextPart OutputUrlCitation RefusalPart UnknownItem "
    "UnknownOutputAnnotation UnknownPart"
)
_CONVERSATION_MODELS: Final = tuple(_CONVERSATION_MODEL_TEXT.split())
"""The names of ``_codec.conversation_models.__all__`` (a test holds the two equal)."""
_LAZY: Final = {
    **dict.fromkeys(_CONVERSATION_MODELS, "._codec.conversation_models"),
    **dict.fromkeys(
        ("ConversationItems", "Conversations", "ConversationsWithResponse", "ItemsWithResponse"),
        ".conversations",
    ),
    **dict.fromkeys(("MockHandler", "MockReply", "MockSeam"), "._transport.mock"),
    "CommandToken": ".auth.command",
}
"""Public names whose modules load on first use (see ``__getattr__``): the conversation
layer, the in-memory seam for tests and the command token source."""

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
    from ._transport.mock import MockHandler, MockReply, MockSeam
    from .auth.command import CommandToken
    from .conversations import (
        ConversationItems,
        Conversations,
        ConversationsWithResponse,
        ItemsWithResponse,
    )
else:

    def __getattr__(name: str) -> Any:
        """A name of ``_LAZY``, imported when first asked for (a client of threads alone
        never loads them: ``import openai_messages`` stays quick)."""
        module = _LAZY.get(name)
        if module is None:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module, __name__), name)
        globals()[name] = value
        return value

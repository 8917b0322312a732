"""The models of the Assistants API (messages, pages, files, threads), for those who
import them from here; they are also ``openai_messages.<Name>``."""

from ._codec.models import *  # noqa: F403
from ._codec.models import __all__ as __all__

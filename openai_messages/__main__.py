"""``python -m openai_messages``: the ``openai-messages`` command."""

from .cli import main

if __name__ == "__main__":
    main()

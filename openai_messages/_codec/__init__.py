"""The codec: the models, and JSON to models and back (cattrs hooks, the fast path)."""

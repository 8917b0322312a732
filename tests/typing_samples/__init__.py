"""Code for the type checker only: what must type-check, and the mistakes it must catch."""

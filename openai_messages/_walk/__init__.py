"""Walking: the pager, the generic walk of list endpoints, feeds, many-thread walks."""

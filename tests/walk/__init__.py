"""Tests of walking: the pager, the list endpoints, many-thread walks."""

"""Tests of the transport: the retry loop, reconcile, hostile servers, TLS and proxies, secrets."""

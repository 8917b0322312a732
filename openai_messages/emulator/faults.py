"""Fault injection: what can go wrong (:class:`Fault`), when (:class:`FaultRule`),
and the set of rules an emulator consults on every request (:class:`Faults`)."""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping
from typing import Final

import attrs

__all__ = ["KINDS", "LIST_ROUTES", "ROUTES", "Chaos", "Fault", "FaultRule", "Faults"]

ROUTES: Final = frozenset(
    {
        "create",
        "list",
        "retrieve",
        "modify",
        "delete",
        "list_files",
        "retrieve_file",
        "create_thread",
        "retrieve_thread",
        "modify_thread",
        "delete_thread",
        "create_conversation",
        "list_conversations",
        "retrieve_conversation",
        "update_conversation",
        "delete_conversation",
        "create_items",
        "list_items",
        "retrieve_item",
        "delete_item",
    }
)
LIST_ROUTES: Final = frozenset({"list", "list_files", "list_items", "list_conversations"})

#: Faults answered without running the route's handler.
PRE_KINDS: Final = frozenset({"error", "html", "redirect", "drop"})
#: Faults applied to the reply of the handler (which has run, side effects included).
POST_KINDS: Final = frozenset(
    {
        "truncate",
        "drop_mid_body",
        "commit_then_error",
        "commit_then_drop",
        "commit_then_delay",
        "partial_commit",
    }
)
#: Faults that change how a list page is computed (list routes only).
PAGE_KINDS: Final = frozenset({"empty_has_more", "repeat_page", "reverse_page"})
KINDS: Final = PRE_KINDS | POST_KINDS | PAGE_KINDS | {"latency"}


def _check_kind(_: object, __: object, value: str) -> None:
    if value not in KINDS:
        raise ValueError(f"unknown fault kind {value!r}; expected one of {sorted(KINDS)}")


def _check_fraction(_: object, __: object, value: float) -> None:
    if not 0.0 <= value < 1.0:
        raise ValueError("fraction must be in [0, 1)")


def _headers(value: Mapping[str, str]) -> dict[str, str]:
    return dict(value)


@attrs.frozen
class Fault:
    """One injected misbehaviour.  Build it with the class methods."""

    kind: str = attrs.field(validator=_check_kind)
    status: int = 500
    delay: float = 0.0
    retry_after: float | None = None
    retry_after_ms: float | None = None
    should_retry: bool | None = None
    fraction: float = attrs.field(default=0.5, validator=_check_fraction)
    location: str | None = None
    message: str | None = None
    body: str | None = None
    headers: Mapping[str, str] = attrs.field(factory=dict, converter=_headers)
    count: int = 1
    """``partial_commit``: how many items of the batch are stored."""

    @classmethod
    def error(
        cls,
        status: int = 500,
        *,
        message: str | None = None,
        retry_after: float | None = None,
        retry_after_ms: float | None = None,
        should_retry: bool | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Fault:
        """Answer ``status`` with an OpenAI error body; optional retry headers."""
        return cls(
            "error",
            status=status,
            message=message,
            retry_after=retry_after,
            retry_after_ms=retry_after_ms,
            should_retry=should_retry,
            headers=headers or {},
        )

    @classmethod
    def rate_limited(
        cls,
        retry_after: float | None = 1.0,
        *,
        retry_after_ms: float | None = None,
        should_retry: bool | None = None,
    ) -> Fault:
        """A 429 with ``Retry-After`` (seconds) and/or ``retry-after-ms``."""
        return cls.error(
            429, retry_after=retry_after, retry_after_ms=retry_after_ms, should_retry=should_retry
        )

    @classmethod
    def latency(cls, seconds: float) -> Fault:
        """Wait ``seconds`` before handling the request normally."""
        return cls("latency", delay=seconds)

    @classmethod
    def drop(cls) -> Fault:
        """Close the connection before sending anything (the handler does not run)."""
        return cls("drop")

    @classmethod
    def drop_mid_body(cls, fraction: float = 0.5) -> Fault:
        """Send the headers (full Content-Length) and ``fraction`` of the body, then close."""
        return cls("drop_mid_body", fraction=fraction)

    @classmethod
    def truncate(cls, fraction: float = 0.5) -> Fault:
        """Send a cut JSON body whose Content-Length matches what is sent."""
        return cls("truncate", fraction=fraction)

    @classmethod
    def html(cls, status: int = 502, body: str | None = None) -> Fault:
        """Answer ``status`` with a ``text/html`` page (e.g. a proxy's Bad Gateway)."""
        return cls("html", status=status, body=body)

    @classmethod
    def commit_then_error(cls, status: int = 500) -> Fault:
        """Run the handler (the message is stored), then answer ``status``."""
        return cls("commit_then_error", status=status)

    @classmethod
    def partial_commit(cls, stored: int = 1, status: int = 500) -> Fault:
        """Store only the first ``stored`` items of a conversation items create (or of a
        conversation create's ``items``), then answer ``status``. On another route it is
        :meth:`commit_then_error`."""
        return cls("partial_commit", status=status, count=stored)

    @classmethod
    def commit_then_drop(cls) -> Fault:
        """Run the handler, then close the connection without answering."""
        return cls("commit_then_drop")

    @classmethod
    def commit_then_delay(cls, seconds: float) -> Fault:
        """Run the handler, then hold the reply for ``seconds`` (so the client times out)."""
        return cls("commit_then_delay", delay=seconds)

    @classmethod
    def redirect(cls, location: str, status: int = 307) -> Fault:
        """Answer ``status`` (307/308) with ``Location``; ``{path_qs}`` in it is replaced
        by the request's path and query string."""
        return cls("redirect", status=status, location=location)

    @classmethod
    def empty_has_more(cls) -> Fault:
        """A list page with no data that still says ``has_more: true``."""
        return cls("empty_has_more")

    @classmethod
    def repeat_page(cls) -> Fault:
        """A list page computed without the cursors and with ``has_more: true``."""
        return cls("repeat_page")

    @classmethod
    def reverse_page(cls) -> Fault:
        """A list page whose items are in the opposite of the requested order."""
        return cls("reverse_page")

    def applies_to(self, route: str | None) -> bool:
        """Whether this fault makes sense for ``route`` (page anomalies need a list)."""
        return self.kind not in PAGE_KINDS or route in LIST_ROUTES


@attrs.frozen
class Chaos:
    """A random mix of faults: errors (429/500/502/503), mid-body drops, truncations.

    A 429 asks for ``Retry-After: 1`` or for ``retry-after-ms`` up to 1000."""

    error_rate: float = 0.30
    drop_rate: float = 0.05
    truncate_rate: float = 0.05

    def draw(self, rng: random.Random) -> Fault | None:
        """Pick a fault (or None) with the configured probabilities."""
        u = rng.random()
        if u < self.error_rate:
            status = rng.choice((429, 500, 502, 503))
            if status != 429:
                return Fault.error(status)
            if rng.random() < 0.5:
                # Draw as before (same sequence for a seed), but the spec's 429 wants
                # Retry-After as an integer of at least 1: never send 0.
                return Fault.rate_limited(float(max(1, rng.randint(0, 1))))
            return Fault.rate_limited(None, retry_after_ms=float(rng.randint(0, 1000)))
        u -= self.error_rate
        if u < self.drop_rate:
            return Fault.drop_mid_body(rng.choice((0.0, 0.25, 0.5, 0.75)))
        u -= self.drop_rate
        if u < self.truncate_rate:
            return Fault.truncate(rng.choice((0.1, 0.5, 0.9)))
        return None


def _nth_set(value: int | Iterable[int] | None) -> frozenset[int] | None:
    if value is None:
        return None
    if isinstance(value, int):
        return frozenset({value})
    return frozenset(value)


def _check_route(_: object, __: object, value: str | None) -> None:
    if value is not None and value not in ROUTES:
        raise ValueError(f"unknown route {value!r}; expected one of {sorted(ROUTES)}")


@attrs.define
class FaultRule:
    """When a fault fires.

    A rule watches the requests to ``route`` (None: every route) that passed auth and
    the rate limit, counting them from 1 from the moment it was added.  It fires on
    the ``nth`` of them (an int or a set of ints; None: any), then with
    ``probability`` (None: always), at most ``times`` times (None: unlimited).
    """

    fault: Fault | Chaos
    route: str | None = attrs.field(default=None, validator=_check_route)
    nth: frozenset[int] | None = attrs.field(default=None, converter=_nth_set)
    probability: float | None = None
    times: int | None = None
    seen: int = 0
    fired: int = 0

    @property
    def exhausted(self) -> bool:
        """True once the rule has fired ``times`` times."""
        return self.times is not None and self.fired >= self.times


class Faults:
    """The rules an emulator consults on each request; changeable at runtime."""

    def __init__(self, *rules: FaultRule, seed: int | None = 0) -> None:
        self.rules: list[FaultRule] = list(rules)
        self.rng = random.Random(seed)

    def __repr__(self) -> str:
        return f"Faults({', '.join(map(repr, self.rules))})"

    def __len__(self) -> int:
        return len(self.rules)

    def add(
        self,
        fault: Fault | Chaos,
        *,
        route: str | None = None,
        nth: int | Iterable[int] | None = None,
        probability: float | None = None,
        times: int | None = None,
    ) -> FaultRule:
        """Add a rule (see :class:`FaultRule`) and return it."""
        rule = FaultRule(fault, route=route, nth=nth, probability=probability, times=times)
        self.rules.append(rule)
        return rule

    def remove(self, rule: FaultRule) -> None:
        """Remove one rule."""
        self.rules.remove(rule)

    def clear(self) -> None:
        """Remove every rule."""
        self.rules.clear()

    @classmethod
    def chaos(
        cls,
        seed: int = 1,
        error_rate: float = 0.30,
        drop_rate: float = 0.05,
        truncate_rate: float = 0.05,
        *,
        route: str | None = None,
    ) -> Faults:
        """A preset: every request risks an error, a mid-body drop or a truncation."""
        faults = cls(seed=seed)
        faults.add(Chaos(error_rate, drop_rate, truncate_rate), route=route)
        return faults

    def pick(self, route: str | None) -> Fault | None:
        """Count this request against every matching rule; return the fault to apply."""
        chosen: Fault | None = None
        for rule in self.rules:
            if rule.route is not None and rule.route != route:
                continue
            if isinstance(rule.fault, Fault) and not rule.fault.applies_to(route):
                continue
            rule.seen += 1
            if chosen is not None or rule.exhausted:
                continue
            if rule.nth is not None and rule.seen not in rule.nth:
                continue
            if rule.probability is not None and self.rng.random() >= rule.probability:
                continue
            fault = rule.fault.draw(self.rng) if isinstance(rule.fault, Chaos) else rule.fault
            if fault is None:
                continue
            rule.fired += 1
            chosen = fault
        return chosen

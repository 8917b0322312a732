"""Parse speed: a 100-message page from bytes to models, beside orjson and the official package.

``python benchmarks/bench_parse.py [--quick]`` prints microseconds per message (medians of
repeated runs) for:

* ``orjson.loads`` alone (the floor: bytes to dicts, no models);
* ``openai_messages._codec.converter.decode(body, MessagePage)`` (bytes to validated models);
* the official ``openai`` package, doing exactly what it does for
  ``client.beta.threads.messages.list()``: ``httpx2.Response.json()`` (stdlib
  ``json.loads`` of the body), then ``AsyncOpenAI._process_response_data(data,
  cast_to=AsyncCursorPage[Message])``, which by default (``_strict_response_validation=False``)
  is ``openai._models.construct_type``: pydantic models built without validation.
  The same call with ``_strict_response_validation=True`` (pydantic validation) is shown too;
* the same decode through cattrs' hooks alone (``cattrs path alone``: the converter's
  fast path skipped), the figure that says whether the fast path is still needed;
* unstructuring the page back to dicts (``converter.unstructure``) and to JSON bytes
  (``converter.encode``), as a JSON Lines export does.

The targets (not tests): ``decode`` at least 7x faster than the official package's default
parse, and within 3.5x of ``orjson.loads`` alone.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cattrs
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from openai_messages._codec import converter
from openai_messages._codec.models import MessagePage

N_MESSAGES = 100
SPEED_TARGET = 7.0  # decode at least this many times faster than the official package
FLOOR_TARGET = 3.5  # decode at most this many times slower than orjson.loads alone (issue 13)

_SENTENCE = (
    "the assistant reviewed quarterly revenue figures and found that growth in the "
    "northern region outpaced forecasts while costs stayed flat across every division "
    "so the margin improved by several points compared with the previous period"
)
_WORDS = _SENTENCE.split(" ")


def _text(i: int, n_words: int) -> str:
    return " ".join(_WORDS[(i + k) % len(_WORDS)] for k in range(n_words))


def make_message(i: int) -> dict[str, Any]:
    """A realistic v2 message: a few hundred bytes of text, some annotations and files."""
    assistant = i % 2 == 1
    value = _text(i, 45 + i % 20)
    annotations: list[dict[str, Any]] = []
    if assistant and i % 3 == 0:
        annotations.append(
            {
                "type": "file_citation",
                "text": "【4:0†source】",
                "file_citation": {"file_id": f"file-cite{i:04d}"},
                "start_index": 10,
                "end_index": 23,
            }
        )
    if assistant and i % 5 == 0:
        annotations.append(
            {
                "type": "file_path",
                "text": "sandbox:/mnt/data/report.csv",
                "file_path": {"file_id": f"file-path{i:04d}"},
                "start_index": 40,
                "end_index": 68,
            }
        )
    content: list[dict[str, Any]] = [
        {"type": "text", "text": {"value": value, "annotations": annotations}}
    ]
    if i % 10 == 4:
        content.append({"type": "image_file", "image_file": {"file_id": f"file-img{i}"}})
    attachments: list[dict[str, Any]] = []
    if not assistant and i % 4 == 0:
        attachments.append(
            {"file_id": f"file-att{i:04d}", "tools": [{"type": "file_search"}]},
        )
        attachments.append(
            {"file_id": f"file-code{i:04d}", "tools": [{"type": "code_interpreter"}]},
        )
    return {
        "id": f"msg_{i:024d}",
        "object": "thread.message",
        "created_at": 1_714_000_000 + i,
        "assistant_id": "asst_abc123" if assistant else None,
        "thread_id": "thread_abc123",
        "run_id": f"run_{i:012d}" if assistant else None,
        "status": "completed",
        "incomplete_details": None,
        "completed_at": 1_714_000_001 + i if assistant else None,
        "incomplete_at": None,
        "role": "assistant" if assistant else "user",
        "content": content,
        "attachments": attachments,
        "metadata": {"source": "bench", "turn": str(i)} if i % 3 == 0 else {},
    }


def make_page_body(n: int = N_MESSAGES) -> bytes:
    """The JSON bytes of one list page of ``n`` messages."""
    data = [make_message(i) for i in range(n)]
    page = {
        "object": "list",
        "data": data,
        "first_id": data[0]["id"],
        "last_id": data[-1]["id"],
        "has_more": True,
    }
    return orjson.dumps(page)


def measure(
    contenders: dict[str, Callable[[], object]], *, rounds: int, budget_s: float
) -> dict[str, list[float]]:
    """Microseconds per message of each contender (each handles one page), per round.

    The contenders take turns inside every round, so that a slower or busier moment of the
    machine weighs on all of them alike; ratios are then taken round by round.
    """
    numbers = {}
    for name, fn in contenders.items():
        fn()  # warm up caches (and the official package's lazy model setup)
        start = time.perf_counter()
        fn()
        once = max(time.perf_counter() - start, 1e-7)
        numbers[name] = max(1, int(budget_s / rounds / len(contenders) / once))
    samples: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(rounds):
        for name, fn in contenders.items():
            number = numbers[name]
            start = time.perf_counter()
            for _ in range(number):
                fn()
            samples[name].append((time.perf_counter() - start) / number / N_MESSAGES * 1e6)
    return samples


def median_ratio(a: list[float], b: list[float]) -> float:
    """The median over rounds of ``a / b``."""
    return statistics.median(x / y for x, y in zip(a, b, strict=True))


def official_parsers(body: bytes) -> dict[str, Callable[[], object]]:
    """The official package's parse of a list page, default and strict; empty if absent."""
    try:
        import httpx2
        import openai
        from openai.pagination import AsyncCursorPage
        from openai.types.beta.threads import Message as OfficialMessage
    except ImportError:  # pragma: no cover - the official package is optional
        return {}
    cast_to: Any = AsyncCursorPage[OfficialMessage]
    response = httpx2.Response(200, content=body, headers={"content-type": "application/json"})
    default = openai.AsyncOpenAI(api_key="sk-bench", base_url="http://127.0.0.1:9/v1")
    strict = openai.AsyncOpenAI(
        api_key="sk-bench", base_url="http://127.0.0.1:9/v1", _strict_response_validation=True
    )

    def parse_default() -> object:
        return default._process_response_data(
            data=response.json(), cast_to=cast_to, response=response
        )

    def parse_strict() -> object:
        return strict._process_response_data(
            data=response.json(), cast_to=cast_to, response=response
        )

    page: Any = parse_default()
    assert len(page.data) == N_MESSAGES
    assert type(page.data[0]).__name__ == "Message"
    return {"official (default)": parse_default, "official (strict)": parse_strict}


def _cattrs_alone(body: bytes) -> object:
    """``decode`` without the fast path: cattrs' generated hooks do all the reading."""
    general = getattr(converter.converter, "readers", None)
    if general is None:  # a converter without a separate fast path
        return converter.decode(body, MessagePage)
    return cattrs.Converter.structure(converter.converter, orjson.loads(body), MessagePage)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the table; 0 when both targets are met."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="shorter runs")
    args = parser.parse_args(argv)
    rounds, budget = (7, 3.0) if args.quick else (21, 15.0)

    body = make_page_body()
    page = converter.decode(body, MessagePage)
    assert len(page) == N_MESSAGES
    assert converter.unstructure(page) == orjson.loads(body)

    contenders: dict[str, Callable[[], object]] = {
        "orjson.loads": lambda: orjson.loads(body),
        "decode (ours)": lambda: converter.decode(body, MessagePage),
        "cattrs path alone": lambda: _cattrs_alone(body),
        **official_parsers(body),
        "unstructure (ours)": lambda: converter.unstructure(page),
        "encode (ours)": lambda: converter.encode(page),
    }
    samples = measure(contenders, rounds=rounds, budget_s=budget)

    print(f"page: {N_MESSAGES} messages, {len(body)} bytes ({len(body) // N_MESSAGES} B/message)")
    print(f"{'step':<22}{'us/message':>12}  (median of {rounds} rounds)")
    for name, values in samples.items():
        print(f"{name:<22}{statistics.median(values):>12.2f}")

    ours = samples["decode (ours)"]
    floor_ratio = median_ratio(ours, samples["orjson.loads"])
    ok = floor_ratio <= FLOOR_TARGET
    print(f"decode / orjson.loads      = {floor_ratio:5.2f}x  (target <= {FLOOR_TARGET:g}x)")
    alone = median_ratio(samples["cattrs path alone"], samples["orjson.loads"])
    print(f"cattrs alone / orjson.loads = {alone:5.2f}x  (why the fast path stays)")
    if "official (default)" in samples:
        speedup = median_ratio(samples["official (default)"], ours)
        strict_speedup = median_ratio(samples["official (strict)"], ours)
        ok = ok and speedup >= SPEED_TARGET
        print(f"official (default) / ours  = {speedup:5.2f}x  (target >= {SPEED_TARGET:g}x)")
        print(f"official (strict) / ours   = {strict_speedup:5.2f}x")
    else:
        print("official package not installed: speed-up not measured")
    print("targets met" if ok else "TARGETS NOT MET")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())

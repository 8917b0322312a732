"""The package's modules import each other without cycles, typing-only imports included
(issue 13 item 5), and the CLI's optional extras stay inside ``openai_messages.cli``."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "openai_messages"
CLI_EXTRAS = {"click", "rich"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path, modules: frozenset[str] = frozenset()) -> set[str]:
    """Every module that ``path`` imports, anywhere in it (``TYPE_CHECKING`` blocks and
    function bodies included). ``from P import m`` counts as importing ``P.m`` when that
    is one of ``modules``, else as importing ``P``."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package
            for _ in range(node.level - 1):
                base = base.rpartition(".")[0]
            target = node.module or ""
            if node.level:
                target = f"{base}.{target}" if target else base
            for alias in node.names:
                submodule = f"{target}.{alias.name}"
                found.add(submodule if submodule in modules else target)
    return found


def graph() -> dict[str, set[str]]:
    """Module -> the package modules it imports, less its own parent packages (which
    Python initialises first whatever the module says)."""
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    names = frozenset(modules)
    return {
        name: {
            imported
            for imported in imports_of(path, names)
            if imported in modules and not name.startswith(imported + ".")
        }
        - {name}
        for name, path in modules.items()
    }


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (cycle := visit(nxt)) is not None:
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state and (cycle := visit(node)) is not None:
            return cycle
    return None


def test_the_finder_sees_a_cycle() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_module_of_the_package_imports_itself_through_others() -> None:
    assert find_cycle(graph()) is None


def test_bulk_knows_no_client() -> None:
    assert "openai_messages.client" not in graph()["openai_messages._walk.bulk"]


def test_only_the_cli_subpackage_imports_click_or_rich() -> None:
    for path in PACKAGE.rglob("*.py"):
        roots = {name.partition(".")[0] for name in imports_of(path)}
        inside_cli = module_name(path).startswith("openai_messages.cli.")
        assert inside_cli or not roots & CLI_EXTRAS, path

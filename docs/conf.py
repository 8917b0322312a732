"""Sphinx configuration: the guide (the README), the API reference, the design notes.

Built offline by ``nox -s docs`` with warnings as errors and nitpicky references. There is
no intersphinx (no network), so references to names outside this package are not
checked; references inside it are.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import openai_messages  # noqa: E402
import openai_messages.emulator  # noqa: E402

project = "openai_messages"
author = "openai_messages developers"
copyright = "2026, openai_messages developers"
release = openai_messages.__version__
version = ".".join(release.split(".")[:2])

extensions = ["sphinx.ext.autodoc"]
exclude_patterns = ["_build"]
templates_path: list[str] = []
html_theme = "furo"
html_title = f"openai_messages {release}"
html_static_path: list[str] = []

autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_class_signature = "separated"
autodoc_preserve_defaults = True
autodoc_default_options = {"members": True, "show-inheritance": True}

nitpicky = True
# Only this package's own names can be resolved offline; every other target is let be.
nitpick_ignore_regex = [(r"py:.*", r"(?!openai_messages\b).*")]

#: The packages whose ``__all__`` names are documented under the package, not the module.
PUBLIC_PACKAGES = (openai_messages.emulator, openai_messages)


def _lookup(path: str) -> object:
    """The object at a dotted path (``openai_messages.models.Message``), or ``None``."""
    parts = path.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj: object = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attr in parts[cut:]:
            obj = getattr(obj, attr, None)
        return obj
    return None


def _resolve_reexport(app: Any, env: Any, node: Any, contnode: Any) -> Any:
    """Resolve a reference to this package's names that the reference does not document.

    Type hints name a class by its defining module (``openai_messages.models.Message``);
    the reference documents it where users import it from (``openai_messages.Message``).
    Private names, type variables and internal helpers are not documented: they are shown
    as plain text. Anything else (a public name without its page) stays a warning.
    """
    target = str(node.get("reftarget", ""))
    if node.get("refdomain") != "py" or not target.startswith("openai_messages."):
        return None
    obj = _lookup(target)
    name = target.rpartition(".")[2]
    for package in PUBLIC_PACKAGES:
        if name in package.__all__ and getattr(package, name) is obj and obj is not None:
            domain = env.get_domain("py")
            return domain.resolve_xref(
                env,
                node["refdoc"],
                app.builder,
                node["reftype"],
                f"{package.__name__}.{name}",
                node,
                contnode,
            )
    public = any(obj is getattr(p, n, None) for p in PUBLIC_PACKAGES for n in p.__all__)
    if obj is not None and not public:
        return contnode  # private, a TypeVar or an internal helper: plain text
    return None


def setup(app: Any) -> None:
    app.connect("missing-reference", _resolve_reexport)

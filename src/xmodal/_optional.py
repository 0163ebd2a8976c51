"""Optional heavy dependencies, imported on first use with an error that names the extra."""

from __future__ import annotations

import importlib
from types import ModuleType


class MissingDependencyError(ImportError):
    """An optional dependency is not installed; the message says which extra installs it."""


def require(module: str, extra: str) -> ModuleType:
    """Import ``module``, or raise :class:`MissingDependencyError` naming the extra to install."""
    try:
        imported = importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependencyError(
            f"{module} is needed here but is not installed: pip install 'xmodal[{extra}]'"
        ) from exc
    if imported is None:  # a test (or a user) blocked it with sys.modules[module] = None
        raise MissingDependencyError(
            f"{module} is needed here but is not installed: pip install 'xmodal[{extra}]'"
        )
    return imported

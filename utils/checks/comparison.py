"""Self-checks of notebook 07, the tool comparison."""

from __future__ import annotations

__all__: list[str] = []

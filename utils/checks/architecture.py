"""Self-checks of notebook 04, the architecture study."""

from __future__ import annotations

__all__: list[str] = []

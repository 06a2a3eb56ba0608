"""Self-checks of notebook 06, the over-fitting study."""

from __future__ import annotations

__all__: list[str] = []

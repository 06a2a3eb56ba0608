"""Self-checks of notebook 05, the learning-rate study."""

from __future__ import annotations

__all__: list[str] = []

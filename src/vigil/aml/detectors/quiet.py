"""One alert per subject per window: the deduplication every detector applies.

An analyst wants one alert for a fan-in of twelve payers, not nine (one at the fourth payer,
one at each after). After an alert on a subject, the detector stays quiet about that subject
until the window that produced it has passed; then a new episode may raise a new alert.
"""

from __future__ import annotations

from collections import deque


class Quiet:
    """Subjects recently alerted on, each until an instant; forgotten once it has passed."""

    __slots__ = ("_order", "_until")

    def __init__(self) -> None:
        self._until: dict[str, float] = {}
        self._order: deque[tuple[float, str]] = deque()  # (until, subject), in arrival order

    def holds(self, subject: str, at: float) -> bool:
        """Whether ``subject`` was alerted on recently enough to stay quiet at ``at``."""
        self._forget(at)
        until = self._until.get(subject)
        return until is not None and at < until

    def hold(self, subject: str, until: float) -> None:
        self._until[subject] = until
        self._order.append((until, subject))

    def __len__(self) -> int:
        return len(self._until)

    def _forget(self, at: float) -> None:
        order, until = self._order, self._until
        while order and order[0][0] <= at:
            end, subject = order.popleft()
            if until.get(subject) == end:
                del until[subject]

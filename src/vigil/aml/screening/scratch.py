"""A per-thread numpy array with a slot per id, reused from one screening to the next.

Screening indexes by vocabulary token, listed form or form content; allocating and zeroing an
array of that size for every name (17,000 to 222,000 slots) costs more than the work done in
it. What the slots hold between uses is the caller's rule: the scorer wipes what it wrote, the
blocker and the ranking read only slots they have just written.
"""

from __future__ import annotations

import threading

import numpy as np


class ThreadArray(threading.local):
    """Each thread's own array of ``dtype``, zeroed when first made at a size."""

    def __init__(self, dtype: type[np.generic]):
        self.dtype = dtype
        self.size = -1

    def of(self, size: int) -> np.ndarray:
        if size != self.size:
            self.size = size
            self.values = np.zeros(size, dtype=self.dtype)
        return self.values

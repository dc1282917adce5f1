# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False
"""Per-entity state: bucketed sliding windows, remembered values, lifetime statistics, and a
payment's walk over it (its entities' features read, then the payment recorded).

Written by hand rather than taken from a streaming library because the hot path needs three
properties at once that none offers together: bounded memory per entity (buckets, capped value
maps), integer arithmetic so that adding and expiring is exact (online and offline must agree
bit for bit), and a few microseconds per update. river's rolling statistics keep every event
of the window; that is unbounded for a busy merchant.

Compiled with Cython because this walk is most of a payment's CPU (every payment reads and
updates six entities' windows, value maps and statistics): in plain CPython each bucket is a
list and each window a deque, and the interpreter's overhead per field touched was the cost.
Here a window's buckets are a C ring, and the state objects hold no reference cycles, so they
are not tracked by the cyclic garbage collector at all. The arithmetic is Python's to the bit
(true division of integers, ``%`` on negative times, ``math.log1p``), so features computed by
this module equal those computed before it, and online equals offline. There is no
pure-Python twin to fall back on: serving and training share this one implementation.
"""

import cython
from libc.math cimport NAN, log1p, sqrt
from libc.stdlib cimport free, malloc

cdef enum:
    #: Ring capacity a window starts with: a window spans at most 13 buckets of its step.
    RING = 16

cdef double DAY = 86_400.0


cdef struct Bucket:
    long long start
    long long count
    long long total
    long long peak


@cython.final
cdef class Window:
    """count, sum and max over a sliding window, in ``BUCKETS`` time buckets.

    A bucket counts while any part of it is inside the window, so the window reaches back at
    most one bucket further than its span; every reader and writer shares that rule.
    """

    cdef readonly long long span, step, count, total, peak
    cdef Bucket* ring
    cdef Py_ssize_t head, size, capacity

    def __cinit__(self, long long span, long long step):
        if step <= 0:
            raise ValueError(f"step: expected a positive number of seconds, got {step}")
        self.span = span
        self.step = step
        self.ring = <Bucket*> malloc(RING * sizeof(Bucket))
        if self.ring == NULL:
            raise MemoryError()
        self.capacity = RING

    def __dealloc__(self):
        free(self.ring)

    @cython.cdivision(True)
    cdef inline Bucket* _at(self, Py_ssize_t i) noexcept:
        return &self.ring[(self.head + i) % self.capacity]

    cdef void _expire(self, long long now) noexcept:
        cdef long long horizon = now - self.span - self.step
        cdef bint rescan = False
        cdef Bucket* first
        cdef Py_ssize_t i
        if self.size == 0 or self._at(0).start > horizon:
            return  # most reads find nothing to expire
        while self.size and self._at(0).start <= horizon:
            first = self._at(0)
            self.count -= first.count
            self.total -= first.total
            rescan = rescan or first.peak == self.peak
            self.head = (self.head + 1) % self.capacity  # both >= 0
            self.size -= 1
        if self.size == 0:
            self.peak = 0
        elif rescan:
            self.peak = self._at(0).peak
            for i in range(1, self.size):
                if self._at(i).peak > self.peak:
                    self.peak = self._at(i).peak

    cdef int _append(self, long long start, long long count, long long total,
                     long long peak) except -1:
        cdef Bucket* grown
        cdef Py_ssize_t i
        if self.size == self.capacity:  # out-of-order events can keep more buckets: grow
            grown = <Bucket*> malloc(2 * self.capacity * sizeof(Bucket))
            if grown == NULL:
                raise MemoryError()
            for i in range(self.size):
                grown[i] = self._at(i)[0]
            free(self.ring)
            self.ring, self.head, self.capacity = grown, 0, 2 * self.capacity
        self._at(self.size)[0] = Bucket(start, count, total, peak)
        self.size += 1
        return 0

    cdef int _add(self, long long now, long long amount) except -1:
        cdef long long start = now - now % self.step  # Python's %: a bucket start <= now
        cdef Bucket* last
        if self.size and self._at(self.size - 1).start == start:
            last = self._at(self.size - 1)
            last.count += 1
            last.total += amount
            if amount > last.peak:
                last.peak = amount
        else:
            self._append(start, 1, amount, amount)
        self.count += 1
        self.total += amount
        if amount > self.peak:
            self.peak = amount
        return 0

    def expire(self, long long now) -> None:
        """Drop buckets wholly outside the window; always called before the window is read."""
        self._expire(now)

    def add(self, long long now, long long amount) -> None:
        self._add(now, amount)

    @property
    def buckets(self) -> list:
        """The live buckets, oldest first, as ``[start, count, total, peak]`` (a copy)."""
        return [
            [self._at(i).start, self._at(i).count, self._at(i).total, self._at(i).peak]
            for i in range(self.size)
        ]

    @staticmethod
    def restored(long long span, long long step, long long count, long long total,
                 long long peak, buckets) -> Window:
        """A window from its fields and buckets (``[start, count, total, peak]`` each)."""
        cdef Window window = Window(span, step)
        for start, n, amount, top in buckets:
            window._append(start, n, amount, top)
        window.count, window.total, window.peak = count, total, peak
        return window

    def __reduce__(self):
        return Window.restored, (
            self.span, self.step, self.count, self.total, self.peak, self.buckets
        )


@cython.final
@cython.no_gc
cdef class Seen:
    """The last time each distinct value was seen, capped so a merchant's map stays small.

    Past the cap the stalest value is forgotten; distinct counts then saturate at the cap and
    a long-forgotten value counts as new again, which is the right bias for risk.
    """

    cdef readonly Py_ssize_t cap
    #: value -> last time seen, oldest first
    cdef public dict last

    def __init__(self, Py_ssize_t cap, dict last=None):
        self.cap = cap
        self.last = {} if last is None else last

    cdef void note(self, value, stamp) except *:
        """``value`` seen at ``stamp`` (the event's time, one int object shared by every map
        the event updates)."""
        cdef dict last = self.last
        if value in last:
            del last[value]  # re-insert so dict order stays oldest-first
        elif len(last) >= self.cap:
            del last[next(iter(last))]
        last[value] = stamp

    cdef list distinct_since(self, long long now, tuple spans):
        """Distinct values seen within each span before ``now``.

        The map is kept oldest-first (``note`` re-inserts), so its times are sorted when events
        arrive in time order and a binary search counts them; a late event only blurs the
        count by its lateness, identically online and in replay.
        """
        cdef Py_ssize_t size = len(self.last), i = 0, lo, hi, mid
        cdef long long horizon, span
        cdef long long* times = <long long*> malloc((size + 1) * sizeof(long long))
        if times == NULL:
            raise MemoryError()
        try:
            for t in self.last.values():
                times[i] = t
                i += 1
            counts = []
            for span in spans:
                horizon = now - span
                lo, hi = 0, size  # bisect_right
                while lo < hi:
                    mid = (lo + hi) // 2
                    if horizon < times[mid]:
                        hi = mid
                    else:
                        lo = mid + 1
                counts.append(size - lo)
            return counts
        finally:
            free(times)

    def __reduce__(self):
        return Seen, (self.cap, self.last)


@cython.final
@cython.no_gc
cdef class Flow:
    """One direction of one entity: an account's money out, its money in, a device, an IP."""

    cdef public dict windows, seen
    cdef public long long events, total, first, last, fraud_labels
    cdef public double log_mean, log_m2

    def __init__(self, dict windows, tuple seen_fields, Py_ssize_t cap):
        self.windows = {name: Window(span, step) for name, (span, step) in windows.items()}
        self.seen = {name: Seen(cap) for name in seen_fields}
        self.first = -1
        self.last = -1

    def record(self, long long now, long long amount, dict values) -> None:
        """The event into every window, remembered value and statistic of the flow."""
        self._record(now, now, amount, values)

    cdef int _record(self, long long now, stamp, long long amount, dict values) except -1:
        cdef double log_amount, delta
        for window in self.windows.values():
            (<Window> window)._add(now, amount)  # expired by the read that precedes every record
        for name, seen in self.seen.items():
            value = values.get(name)
            if value is not None:
                (<Seen> seen).note(value, stamp)
        # Welford on log amounts: payment sizes are log-normal, so a z-score on raw amounts
        # would be dominated by the few largest payments.
        self.events += 1
        self.total += amount
        log_amount = log1p(<double> amount)
        delta = log_amount - self.log_mean
        self.log_mean += delta / self.events
        self.log_m2 += delta * (log_amount - self.log_mean)
        if self.first < 0:
            self.first = now
        self.last = now
        return 0

    def __reduce__(self):
        return flow_from_fields, (
            self.windows, self.seen, self.events, self.total, self.log_mean, self.log_m2,
            self.first, self.last, self.fraud_labels,
        )


def flow_from_fields(
    windows, seen, events, total, log_mean, log_m2, first, last, fraud_labels
) -> Flow:
    """A flow from its fields (pickle and the wire codec)."""
    cdef Flow flow = Flow.__new__(Flow)
    flow.windows, flow.seen = windows, seen
    flow.events, flow.total = events, total
    flow.log_mean, flow.log_m2 = log_mean, log_m2
    flow.first, flow.last, flow.fraud_labels = first, last, fraud_labels
    return flow


def walk(
    tuple readers,
    tuple recorders,
    list keys,
    list flows,
    long long now,
    long long amount,
    dict values,
    list vector,
    Py_ssize_t ratio_at,
    Py_ssize_t inflow_at,
    Py_ssize_t cap,
    bint update,
):
    """One payment's pass over its entities' flows (``keys`` and ``flows`` in the order of the
    plan's slots, see :class:`~vigil.features.online.OnlineFeatures`): each reader writes its
    role's features into ``vector`` from the state before the payment, then, with ``update``,
    the payment is recorded into every flow of ``recorders`` (a new flow where none is yet).

    Returns the flows it updated by key, for the store to write back; None without ``update``.
    """
    cdef Flow flow
    cdef double inflow
    for reader in readers:
        slot = reader.slot
        if keys[slot] is not None:  # no device / IP on this payment: its features stay NaN
            _read_flow(reader, flows[slot], now, amount, values, vector)
    if ratio_at >= 0:
        inflow = vector[inflow_at]
        vector[ratio_at] = amount / 100.0 / inflow if inflow > 0 else NAN  # cents on dollars
    if not update:
        return None
    updated = {}
    stamp = now  # one int object for every map this payment updates
    for slot, windows, seen_fields in recorders:
        key = keys[slot]
        if key is None:
            continue
        flow = flows[slot]
        if flow is None:
            flow = Flow(windows, seen_fields, cap)
        flow._record(now, stamp, amount, values)
        updated[key] = flow
    return updated


cdef _read_flow(reader, Flow flow, long long now, long long amount, dict values, list vector):
    """Write one entity's features (``reader``: a role's plan of vector positions) into
    ``vector``, from its state before this payment; ``flow`` None is an entity never seen."""
    cdef Window window
    cdef Py_ssize_t p_count, p_sum, p_mean, p_max, p, at
    if flow is None:
        _fill_new_entity(reader, values, vector)
        return
    windows = flow.windows
    for w, p_count, p_sum, p_mean, p_max in reader.windows:
        window = <Window> windows[w]
        window._expire(now)
        if p_count >= 0:
            vector[p_count] = <double> window.count
        if p_sum >= 0:
            vector[p_sum] = window.total / 100.0
        if p_mean >= 0:
            vector[p_mean] = (
                (<double> window.total / <double> window.count) / 100.0 if window.count else NAN
            )
        if p_max >= 0:
            vector[p_max] = window.peak / 100.0
    for field, spans, positions in reader.distinct:
        counts = (<Seen> flow.seen[field]).distinct_since(now, spans)
        for p, c in zip(positions, counts):
            vector[p] = <double> c
    for field, p in reader.novelty:
        value = values.get(field)
        vector[p] = NAN if value is None else <double> (value not in (<Seen> flow.seen[field]).last)
    at = reader.history
    if at >= 0:
        _history(flow, now, amount, vector, at)


cdef void _fill_new_entity(reader, dict values, list vector) except *:
    """A never-seen entity has zero activity and everything is new; its history is unknown."""
    cdef Py_ssize_t p_count, p_sum, p_max, p, at
    for _, p_count, p_sum, _p_mean, p_max in reader.windows:
        if p_count >= 0:
            vector[p_count] = 0.0
        if p_sum >= 0:
            vector[p_sum] = 0.0
        if p_max >= 0:
            vector[p_max] = 0.0
    for _, _, positions in reader.distinct:
        for p in positions:
            vector[p] = 0.0
    for field, p in reader.novelty:
        vector[p] = NAN if values.get(field) is None else 1.0
    at = reader.history
    if at >= 0:
        vector[at] = 0.0  # events; the rest of the block stays NaN
        vector[at + 5] = 0.0  # fraud labels


cdef void _history(Flow flow, long long now, long long amount, list vector,
                   Py_ssize_t at) except *:
    cdef long long n = flow.events
    cdef double std
    vector[at] = <double> n
    vector[at + 1] = amount / (<double> flow.total / <double> n)
    if n >= 2:
        std = max(sqrt(flow.log_m2 / (n - 1)), 0.1)
        vector[at + 2] = (log1p(<double> amount) - flow.log_mean) / std
    vector[at + 3] = <double> (now - flow.last)
    vector[at + 4] = <double> (now - flow.first) / DAY
    vector[at + 5] = <double> flow.fraud_labels
    vector[at + 6] = flow.fraud_labels / <double> (n + 1)

"""Sanctions and watchlist screening: fuzzy, transliteration-aware name matching with blocking.

A name is normalised (:mod:`.normalize`: accents, honorifics, legal forms, connectors, Chinese
romanisations), matched against candidate listed names found by lossless blocking
(:mod:`.blocking`) and scored by weighted token alignment (:mod:`.score`); the policy
(:class:`ScreeningPolicy`) turns scores into hits. :mod:`.parties` screens accounts at
onboarding and the parties of payments. ``docs/screening.md`` has the measured figures.
"""

from vigil.aml.screening.normalize import NormalName, known_tokens, normalize
from vigil.aml.screening.parties import PartyHit, PaymentScreener, screen_accounts
from vigil.aml.screening.screener import (
    Screener,
    ScreeningHit,
    ScreeningPolicy,
    ScreeningResult,
)
from vigil.aml.screening.watchlist import Entry, entries_from_frame, read_watchlist

__all__ = [
    "Entry",
    "NormalName",
    "PartyHit",
    "PaymentScreener",
    "Screener",
    "ScreeningHit",
    "ScreeningPolicy",
    "ScreeningResult",
    "entries_from_frame",
    "known_tokens",
    "normalize",
    "read_watchlist",
    "screen_accounts",
]

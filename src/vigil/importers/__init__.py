"""Importers: public data sets in their published layouts, written as contract worlds."""

from vigil.importers.amlworld import import_amlworld
from vigil.importers.common import ImportSummary
from vigil.importers.paysim import import_paysim

__all__ = ["ImportSummary", "import_amlworld", "import_paysim"]

"""Who changed what, when: an append-only, hash-chained audit trail, and PII kept out of logs.

``open_trail(path_or_url)`` gives a SQLite (embedded) or PostgreSQL (scale-out) trail; every
rule-pack change and API admin action is appended with its actor, and ``vigil audit verify``
names any record altered, deleted or inserted out of chain (docs/audit.md).
"""

from vigil.audit.chain import AuditError, AuditRecord, Fault, Problem, Verification, verify_records
from vigil.audit.trail import AuditTrail, open_trail, rules_audit

__all__ = [
    "AuditError",
    "AuditRecord",
    "AuditTrail",
    "Fault",
    "Problem",
    "Verification",
    "open_trail",
    "rules_audit",
    "verify_records",
]

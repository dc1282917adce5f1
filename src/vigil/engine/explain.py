"""Reasons in words: feature names to sentences an analyst reads without a glossary.

Feature names are generated from the spec (``payer_count_1m``, ``device_distinct_payer_7d``),
so their phrases are generated from the same grammar instead of a hand-kept table that would
fall out of step with the spec.
"""

from __future__ import annotations

import math
import re

ROLE_WORDS = {
    "payer": "this payer",
    "payee": "the payee",
    "payer_in": "money received by this payer",
    "device": "this device",
    "ip": "this IP address",
    "pair": "this payer and payee",
}
WINDOW_WORDS = {
    "1m": "in the last minute",
    "1h": "in the last hour",
    "24h": "in the last 24 hours",
    "7d": "in the last 7 days",
    "30d": "in the last 30 days",
}
OF_WORDS = {"payee": "payees", "payer": "payers", "device": "devices", "ip": "IP addresses"}
NEW_WORDS = {
    "device": "a device this payer never used before",
    "ip": "an IP address this payer never used before",
    "ip_prefix": "a network this payer never used before",
    "payee": "a payee this payer never paid before",
    "payee_country": "a country this payer never paid into before",
}
CONTEXT_WORDS = {
    "amount_usd": "amount of US${v:,.2f}",
    "log_amount_usd": "amount of US${v:,.2f}",
    "amount_round": "a round amount",
    "local_hour": "made at {v:02.0f}:00 local time",
    "day_of_week": "made on {day}",
    "channel_code": "the payment channel",
    "mcc_code": "merchant category {v:04.0f}",
    "jurisdiction_code": "the booking jurisdiction",
    "cross_border": "a cross-border payment",
    "payer_abroad": "payer outside their home country",
    "payer_account_age_days": "payer's account is {v:.0f} days old",
    "payee_account_age_days": "payee's account is {v:.0f} days old",
    "payer_kyc_level": "payer KYC level {v:.0f}",
    "payee_kyc_level": "payee KYC level {v:.0f}",
    "payer_kind_code": "the kind of payer",
    "payee_kind_code": "the kind of payee",
    "has_device": "device fingerprint present",
    "has_ip": "IP address present",
    "payer_in_ratio_24h": "pays out {v:.0%} of what it received in the last 24 hours",
}
HISTORY_WORDS = {
    "events": "{v:.0f} earlier payments by {role}",
    "amount_ratio": "amount is {v:.1f}x the usual for {role}",
    "amount_z": "amount is {v:+.1f} standard deviations from the usual for {role}",
    "secs_since_last": "{gap} since the previous payment of {role}",
    "days_since_first": "{role} first seen {v:.1f} days ago",
    "fraud_labels": "{v:.0f} confirmed frauds involve {role}",
    "fraud_rate": "{v:.1%} of the payments of {role} were confirmed fraud",
}
GRAPH_WORDS = {
    "graph_payer_score": "GeniePath rates this payer's network {v:.0%} likely to be run for fraud",
    "graph_payee_score": "GeniePath rates the payee's network {v:.0%} likely to be run for fraud",
    "graph_payer_device_peers": "{v:.0f} other accounts on this payer's devices",
    "graph_payee_device_peers": "{v:.0f} other accounts on the payee's devices",
    "graph_payer_ip_peers": "{v:.0f} other accounts on this payer's IP addresses",
    "graph_payee_ip_peers": "{v:.0f} other accounts on the payee's IP addresses",
    "graph_payer_fraud_receivers": "{v:.0f} accounts sharing this payer's devices received fraud",
    "graph_payee_fraud_receivers": "{v:.0f} accounts sharing the payee's devices received fraud",
    "graph_payer_fraud_senders": "{v:.0f} accounts sharing this payer's devices sent fraud",
    "graph_payee_fraud_senders": "{v:.0f} accounts sharing the payee's devices sent fraud",
    "graph_payer_link_fraud": "{v:.0f} confirmed frauds paid from this payer's devices",
    "graph_payee_link_fraud": "{v:.0f} confirmed frauds paid from the payee's devices",
    "graph_payer_received_fraud": "this payer received {v:.0f} confirmed fraud payments",
    "graph_payee_sent_fraud": "the payee sent {v:.0f} confirmed fraud payments",
    "graph_shared_links": "payer and payee share {v:.0f} devices or addresses",
    "graph_cosine": "payer and payee are {v:.2f} alike in the payment network (DeepWalk cosine)",
}
DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_ROLE = "(payer_in|payer|payee|device|ip|pair)"
_WINDOW_RE = re.compile(rf"^{_ROLE}_(count|sum|mean|max)_(\w+)$")
_DISTINCT_RE = re.compile(rf"^{_ROLE}_distinct_(\w+?)_(1m|1h|24h|7d|30d)$")
_NEW_RE = re.compile(rf"^{_ROLE}_new_(\w+)$")
_HISTORY_RE = re.compile(rf"^{_ROLE}_({'|'.join(HISTORY_WORDS)})$")


def describe(feature: str, value: float) -> str:
    """One sentence for a feature at a value; unknown names fall back to ``name = value``."""
    if value != value:  # NaN: missing
        return f"{feature.replace('_', ' ')} unknown"
    if feature in CONTEXT_WORDS:
        if feature == "log_amount_usd":
            value = math.expm1(value)
        return CONTEXT_WORDS[feature].format(v=value, day=DAYS[int(value) % 7])
    if feature in GRAPH_WORDS:
        return GRAPH_WORDS[feature].format(v=value)
    if m := _WINDOW_RE.match(feature):
        role, agg, window = m.groups()
        amount = {
            "count": f"{value:.0f} payments",
            "sum": f"US${value:,.0f} in total",
            "mean": f"US${value:,.0f} on average",
            "max": f"largest payment US${value:,.0f}",
        }[agg]
        return f"{amount} by {ROLE_WORDS[role]} {WINDOW_WORDS.get(window, window)}"
    if m := _DISTINCT_RE.match(feature):
        role, of, window = m.groups()
        return f"{value:.0f} different {OF_WORDS.get(of, of)} with {ROLE_WORDS[role]} {WINDOW_WORDS[window]}"
    if m := _NEW_RE.match(feature):
        role, of = m.groups()
        what = NEW_WORDS.get(of, f"a new {of}")
        return f"paid using {what}" if value >= 0.5 else f"{of.replace('_', ' ')} already known"
    if m := _HISTORY_RE.match(feature):
        role, stat = m.groups()
        return HISTORY_WORDS[stat].format(v=value, role=ROLE_WORDS[role], gap=_duration(value))
    return f"{feature} = {value:g}"


def _duration(seconds: float) -> str:
    for unit, size in (("days", 86_400), ("hours", 3_600), ("minutes", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f} {unit}"
    return f"{seconds:.0f} seconds"

"""The run report: one self-contained HTML page an analyst can open, mail or archive.

Everything is inside the file (figures as base64 PNG, CSS inline), because reports travel to
places without the run folder or network access. Every string that came from the data (reason
codes, typologies, jurisdictions, versions) is escaped: the data is outside input, and a
report must never run what a payment carried. Without labels the page still shows what needs
none (latency, actions, reasons, scores) and says that labels were absent.
"""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path

import numpy as np
import polars as pl
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter
from sklearn.metrics import precision_recall_curve

from vigil.evaluation.metrics import (
    ACTIONS,
    LATENCY_LAYERS,
    TYPOLOGY_COLUMNS,
    Metrics,
    compute_metrics,
    headline_rows,
    labels_from_data,
    typology_rows,
)

ACTION_COLOURS = {"review": "#e0a526", "decline": "#c8423b"}
LEGIT_COLOUR, FRAUD_COLOUR = "#4a78b5", "#c8423b"
TOP_REASONS = 20
TOP_JURISDICTIONS = 20

CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; color: #222;
       max-width: 1100px; margin: 2em auto; padding: 0 1em; line-height: 1.45; }
h1 { font-size: 1.6em; margin-bottom: .2em; }
h2 { font-size: 1.25em; border-bottom: 1px solid #ddd; padding-bottom: .2em; margin-top: 2em; }
nav a { margin-right: 1em; }
table { border-collapse: collapse; margin: .8em 0; font-size: .92em; }
th, td { padding: .3em .7em; border-bottom: 1px solid #eee; text-align: left; }
th { background: #f4f4f4; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
tr:nth-child(even) td { background: #fafafa; }
img { max-width: 100%; height: auto; }
.note { background: #fff6dd; border-left: 4px solid #e0a526; padding: .5em .8em; }
.facts td:first-child { color: #555; }
"""


def write_report(run_dir: Path, data_dir: Path | None = None) -> Path:
    """Write RUN/report.html; labels come from ``data_dir`` when given, else RUN/labels.parquet."""
    run_dir = Path(run_dir)
    decisions = pl.read_parquet(run_dir / "decisions.parquet")
    if data_dir is not None:
        labels = labels_from_data(data_dir)
        source = f"transactions in {data_dir}" if labels is not None else None
    elif (run_dir / "labels.parquet").exists():
        labels, source = pl.read_parquet(run_dir / "labels.parquet"), "labels.parquet"
    else:
        labels, source = None, None
    page = render_report(decisions, labels, title=run_dir.resolve().name, label_source=source)
    path = run_dir / "report.html"
    partial = path.with_name(path.name + ".partial")
    partial.write_text(page, encoding="utf-8")
    partial.replace(path)  # a reader never sees half a page
    return path


def render_report(
    decisions: pl.DataFrame,
    labels: pl.DataFrame | None,
    title: str,
    label_source: str | None = None,
) -> str:
    """The whole page as text; ``labels`` None (or matching no decision) means unlabelled."""
    decisions = decisions.unique("txn_id", keep="first", maintain_order=True)
    if labels is not None:
        wanted = ("txn_id", "is_fraud", "typology")
        labels = labels.select([c for c in wanted if c in labels.columns])
        joined = decisions.join(labels, on="txn_id", how="left")
    else:
        joined = decisions.with_columns(is_fraud=pl.lit(None, dtype=pl.Boolean))
    labelled = joined.filter(pl.col("is_fraud").is_not_null())
    metrics = compute_metrics(decisions, labels) if labelled.height else None

    sections: list[tuple[str, str]] = []
    if metrics is None:
        absent = (
            "Labels were absent"
            if labels is None
            else "No decision matched a label (" + html.escape(label_source or "labels") + ")"
        )
        sections.append(
            (
                "Detection",
                f'<p class="note">{absent}: detection metrics, the PR curve and per-typology '
                "recall need ground truth and are not shown. Latency, actions, reasons and the "
                "score distribution below need none.</p>",
            )
        )
    else:
        sections.append(("Detection", _headline(metrics)))
        sections.append(("Precision and recall", _pr_curve(labelled, metrics)))
    sections.append(("Score distribution", _score_distribution(decisions, labelled)))
    if metrics is not None:
        sections.append(("Recall per typology", _typology_recall(metrics)))
    sections.append(("Latency", _latency(decisions)))
    sections.append(("Top reasons", _top_reasons(joined, has_labels=metrics is not None)))
    sections.append(("Actions per jurisdiction", _action_mix(decisions)))
    return _page(title, _facts(decisions, labelled, label_source, metrics), sections)


# --- page structure --------------------------------------------------------------------------


def _page(title: str, facts: str, sections: list[tuple[str, str]]) -> str:
    nav = " ".join(f'<a href="#{_anchor(name)}">{html.escape(name)}</a>' for name, _ in sections)
    body = "\n".join(
        f'<section id="{_anchor(name)}"><h2>{html.escape(name)}</h2>\n{content}</section>'
        for name, content in sections
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>Vigil run {html.escape(title)}</title><style>{CSS}</style></head>\n<body>\n"
        f"<h1>Vigil run report: {html.escape(title)}</h1>\n{facts}\n<nav>{nav}</nav>\n{body}\n"
        "</body></html>\n"
    )


def _anchor(name: str) -> str:
    return name.lower().replace(" ", "-")


def _table(
    headers: list[str] | None, rows: list[list[str]], numeric_from: int = 1, css_class: str = ""
) -> str:
    """An HTML table of plain text cells, escaped here so callers cannot forget.

    Columns from ``numeric_from`` on are right-aligned; ``headers`` None leaves out the header.
    """

    def cell(tag: str, index: int, text: str) -> str:
        css = ' class="num"' if index >= numeric_from else ""
        return f"<{tag}{css}>{html.escape(text)}</{tag}>"

    head = "".join(cell("th", i, h) for i, h in enumerate(headers or []))
    body = "".join(
        "<tr>" + "".join(cell("td", i, c) for i, c in enumerate(row)) + "</tr>" for row in rows
    )
    opening = f'<table class="{css_class}">' if css_class else "<table>"
    thead = f"<thead><tr>{head}</tr></thead>" if head else ""
    return f"{opening}{thead}<tbody>{body}</tbody></table>"


def _figure(width: float, height: float) -> Figure:
    figure = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)  # Agg explicitly: no display, no global pyplot state
    return figure


def _image(figure: Figure, alt: str) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    encoded = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{encoded}">'


def _plain(text: str) -> str:
    """Data text for a figure: a ``$`` would otherwise start matplotlib's math mode."""
    return text.replace("$", r"\$")


# --- sections --------------------------------------------------------------------------------


def _facts(
    decisions: pl.DataFrame,
    labelled: pl.DataFrame,
    label_source: str | None,
    metrics: Metrics | None,
) -> str:
    rows = [["decisions", f"{decisions.height:,}"]]
    if "ts" in decisions.columns and decisions.height:
        first, last = decisions.get_column("ts").min(), decisions.get_column("ts").max()
        rows.append(["transactions from", f"{first:%Y-%m-%d %H:%M} to {last:%Y-%m-%d %H:%M} UTC"])
    for column, label in (
        ("model_bundle_version", "model bundle"),
        ("rule_pack_version", "rule packs"),
    ):
        if column in decisions.columns:
            versions = decisions.get_column(column).drop_nulls().unique().sort().to_list()
            rows.append([label, ", ".join(versions) or "none"])
    if "degraded" in decisions.columns and decisions.height:
        degraded = int(decisions.get_column("degraded").sum())
        rows.append(["degraded decisions", f"{degraded:,} ({degraded / decisions.height:.2%})"])
    if label_source is None:
        rows.append(["labels", "absent"])
    else:
        rows.append(["labels", f"{labelled.height:,} decisions labelled, from {label_source}"])
    notes = "".join(
        f'<p class="note">{html.escape(n)}</p>' for n in (metrics or {}).get("notes", [])
    )
    return _table(None, rows, numeric_from=2, css_class="facts") + notes


def _headline(metrics: Metrics) -> str:
    headline = _table(["metric", "value"], [list(row) for row in headline_rows(metrics)])
    rows = typology_rows(metrics)
    if not rows:
        return headline
    per_typology = _table(
        ["typology", *(header for header, _, _ in TYPOLOGY_COLUMNS)],
        [[name, *cells] for name, cells in rows],
    )
    return (
        f"{headline}<h3>Per typology</h3><p>Recall at the score threshold that flags 1% of "
        "legit transactions; AUPRC of each typology against legit transactions only; the "
        f"engine's actions on it, and the USD it stopped (review or decline).</p>{per_typology}"
    )


def _pr_curve(labelled: pl.DataFrame, metrics: Metrics) -> str:
    fraud = labelled.get_column("is_fraud").to_numpy().astype(bool)
    if fraud.all() or not fraud.any():
        return '<p class="note">The PR curve needs both fraud and legit transactions.</p>'
    precision, recall, _ = precision_recall_curve(fraud, labelled.get_column("score").to_numpy())
    # A curve has one point per distinct score; a few thousand draw the same line.
    keep = np.unique(np.linspace(0, recall.size - 1, min(recall.size, 4000)).astype(int))
    figure = _figure(6.5, 4.5)
    axes = figure.add_subplot()
    axes.plot(recall[keep], precision[keep], color=FRAUD_COLOUR, lw=1.5, label="score")
    axes.axhline(fraud.mean(), color="#888", ls="--", lw=1, label="fraud rate (random)")
    points = metrics["overall"]["operating_point"] or {}
    for key, marker, label in (("flagged", "o", "review + decline"), ("declined", "s", "decline")):
        point = points.get(key)
        if point and point["precision"] is not None and point["recall"] is not None:
            axes.plot(point["recall"], point["precision"], marker, ms=9, color="#222", label=label)
    axes.set(xlabel="recall", ylabel="precision", xlim=(0, 1), ylim=(0, 1.02))
    axes.set_title(f"AUPRC {metrics['overall']['auprc']:.4f}")
    axes.grid(alpha=0.3)
    axes.legend(loc="upper right")
    return (
        "<p>Precision against recall as the score threshold falls; the markers are where the "
        "engine's own actions landed.</p>" + _image(figure, "precision-recall curve")
    )


def _score_distribution(decisions: pl.DataFrame, labelled: pl.DataFrame) -> str:
    bins = np.linspace(0.0, 1.0, 51)
    figure = _figure(6.5, 3.8)
    axes = figure.add_subplot()
    if labelled.height:
        fraud = labelled.get_column("is_fraud").to_numpy().astype(bool)
        score = labelled.get_column("score").to_numpy()
        for mask, name, colour in ((~fraud, "legit", LEGIT_COLOUR), (fraud, "fraud", FRAUD_COLOUR)):
            if mask.any():
                axes.hist(score[mask], bins=bins, alpha=0.6, color=colour, label=name)
        axes.legend()
        intro = "Scores of legit and fraud transactions (labelled decisions only)."
    else:
        axes.hist(decisions.get_column("score").to_numpy(), bins=bins, color=LEGIT_COLOUR)
        intro = "Scores of all decisions (no labels to split them by)."
    axes.set_yscale("log")
    axes.set(xlabel="score (calibrated probability of fraud)", ylabel="transactions (log)")
    axes.grid(alpha=0.3)
    return f"<p>{intro}</p>" + _image(figure, "score distribution")


def _typology_recall(metrics: Metrics) -> str:
    per_typology = metrics.get("per_typology")
    if per_typology is None:
        return '<p class="note">The labels carry no typology.</p>'
    if not per_typology:
        return "<p>Every labelled transaction is legit.</p>"
    names = sorted(per_typology, key=lambda n: per_typology[n]["recall_at_1pct_fpr"] or 0.0)
    at_fpr = [per_typology[n]["recall_at_1pct_fpr"] or 0.0 for n in names]
    engine = [_engine_recall(per_typology[n]) for n in names]
    figure = _figure(6.5, 1.2 + 0.45 * len(names))
    axes = figure.add_subplot()
    rows = np.arange(len(names))
    axes.barh(rows + 0.2, at_fpr, height=0.4, color=LEGIT_COLOUR, label="score @ 1% FPR")
    if any(value is not None for value in engine):
        values = [value or 0.0 for value in engine]
        axes.barh(rows - 0.2, values, height=0.4, color=FRAUD_COLOUR, label="review + decline")
    axes.set_yticks(rows, [_plain(n) for n in names])
    axes.set(xlim=(0, 1), xlabel="recall")
    axes.grid(axis="x", alpha=0.3)
    axes.legend(loc="lower right")
    return (
        "<p>Share of each typology's transactions caught: by the score at the threshold that "
        "flags 1% of legit transactions, and by the engine's actions.</p>"
        + _image(figure, "recall per typology")
    )


def _engine_recall(values: Metrics) -> float | None:
    actions = values.get("actions")
    if not actions or not values["n"]:
        return None
    return (actions["review"] + actions["decline"]) / values["n"]


def _latency(decisions: pl.DataFrame) -> str:
    series = {
        layer: decisions.get_column(f"latency_us_{layer}").drop_nulls().to_numpy()
        for layer in LATENCY_LAYERS
        if f"latency_us_{layer}" in decisions.columns
    }
    series = {layer: values for layer, values in series.items() if values.size}
    if not series:
        return '<p class="note">The decisions carry no latency.</p>'
    # One log axis for every layer: tails span orders of magnitude, and a shared scale shows
    # at a glance which layer spends the budget. Zero (a skipped layer) is drawn at 1 µs.
    lowest = max(1.0, min(float(values.min()) for values in series.values()))
    highest = max(float(values.max()) for values in series.values())
    bins = np.geomspace(lowest, max(highest, lowest * 10) * 1.05, 80)
    figure = _figure(7.5, 1.7 * len(series) + 0.4)
    axes_list = figure.subplots(len(series), 1, squeeze=False, sharex=True)[:, 0]
    rows = []
    for axes, (layer, values) in zip(axes_list, series.items(), strict=True):
        p50, p95, p99 = np.percentile(values, [50, 95, 99])
        rows.append([layer, *(f"{v:,.0f}" for v in (p50, p95, p99)), f"{values.max():,.0f}"])
        axes.hist(np.maximum(values, 1), bins=bins, color=LEGIT_COLOUR)
        axes.set_xscale("log")
        axes.axvline(p50, color="#222", ls="-", lw=1.2, label=f"p50 {p50:,.0f} µs")
        axes.axvline(p99, color=FRAUD_COLOUR, ls="--", lw=1.2, label=f"p99 {p99:,.0f} µs")
        axes.set_ylabel(layer)
        axes.legend(loc="upper right", fontsize="small")
    axes_list[-1].set_xlabel("latency (µs, log scale)")
    table = _table(["layer", "p50 µs", "p95 µs", "p99 µs", "max µs"], rows)
    return table + _image(figure, "latency histogram per layer")


def _top_reasons(joined: pl.DataFrame, has_labels: bool) -> str:
    if "reasons" not in joined.columns or "action" not in joined.columns:
        return '<p class="note">The decisions carry no reasons.</p>'
    flagged = joined.filter(pl.col("action") != "approve")
    if not flagged.height:
        return "<p>No decision was reviewed or declined.</p>"
    # One count per decision and code: a rule that fires twice on a payment is one reason.
    reasons = (
        flagged.select("txn_id", "is_fraud", "reasons")
        .explode("reasons")
        .drop_nulls("reasons")
        .unnest("reasons")
        .unique(["txn_id", "layer", "code"])
        .group_by("layer", "code")
        .agg(
            n=pl.len(),
            fraud=pl.col("is_fraud").sum(),
            labelled=pl.col("is_fraud").count(),
        )
        .sort(["n", "layer", "code"], descending=[True, False, False])
        .head(TOP_REASONS)
    )
    rows = [
        [
            row["layer"] or "",
            row["code"] or "",
            f"{row['n']:,}",
            f"{row['n'] / flagged.height:.1%}",
            f"{row['fraud'] / row['labelled']:.1%}" if row["labelled"] else "—",
        ]
        for row in reasons.iter_rows(named=True)
    ]
    intro = (
        f"<p>Reason codes among the {flagged.height:,} reviewed or declined decisions; "
        "precision is the share of those decisions that were fraud"
        + ("" if has_labels else " (needs labels)")
        + ".</p>"
    )
    return intro + _table(["layer", "code", "decisions", "share of flagged", "precision"], rows, 2)


def _action_mix(decisions: pl.DataFrame) -> str:
    if "jurisdiction" not in decisions.columns or "action" not in decisions.columns:
        return '<p class="note">The decisions carry no jurisdiction or action.</p>'
    counts = (
        decisions.group_by("jurisdiction")
        .agg(
            total=pl.len(),
            **{action: (pl.col("action") == action).sum() for action in ACTIONS},
        )
        .with_columns(pl.col("jurisdiction").fill_null("unknown"))
        .sort(["total", "jurisdiction"], descending=[True, False])
        .head(TOP_JURISDICTIONS)
    )
    if not counts.height:
        return "<p>No decisions.</p>"
    names = counts.get_column("jurisdiction").to_list()
    total = counts.get_column("total").to_numpy()
    figure = _figure(6.5, 1.0 + 0.4 * len(names))
    axes = figure.add_subplot()
    rows = np.arange(len(names))[::-1]
    left = np.zeros(len(names))
    # Approvals are nearly everything; drawing them would squash the part worth seeing.
    for action in ("review", "decline"):
        share = counts.get_column(action).to_numpy() / total
        axes.barh(rows, share, left=left, color=ACTION_COLOURS[action], label=action)
        left += share
    axes.set_yticks(rows, [_plain(n) for n in names])
    axes.set(xlim=(0, max(left.max() * 1.15, 1e-3)), xlabel="share of decisions (rest approved)")
    axes.xaxis.set_major_formatter(PercentFormatter(1.0))
    axes.legend(loc="lower right", fontsize="small")
    table_rows = [
        [
            row["jurisdiction"],
            f"{row['total']:,}",
            *(f"{row[a]:,}" for a in ACTIONS),
            f"{(row['review'] + row['decline']) / row['total']:.2%}",
        ]
        for row in counts.iter_rows(named=True)
    ]
    table = _table(["jurisdiction", "decisions", *ACTIONS, "flag rate"], table_rows)
    return table + _image(figure, "action mix per jurisdiction")

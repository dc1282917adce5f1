"""LightGBM model text, taken apart and put back together: the federated GBDT's wire format.

A client sends only the tree blocks it grew this round (``Tree=...`` sections of LightGBM's model
text), never the model header, which would carry the minimum and maximum of every feature in its
data. The server scales each client's trees by that client's weight and appends them to the
global model, whose header it writes itself from the feature names alone. Leaf values (and the
internal node values TreeSHAP and :class:`vigil.models.attribution.PathAttribution` read) are
scaled together, so the merged model is an ordinary LightGBM model: LightGBM, lleaves and the
engine load it like any other.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import lightgbm as lgb

_TREE = re.compile(r"^Tree=\d+\n", re.MULTILINE)
_SCALED_KEYS = ("leaf_value", "internal_value", "shrinkage")
#: numeric features are marked by a bracketed range: lleaves reads anything else as categorical
_NUMERIC_INFO = "[-1e+300:1e+300]"
_CATEGORICAL_INFO = "-1:0"


def tree_blocks(model_text: str) -> list[str]:
    """The ``Tree=`` sections of a model text, each without its ``Tree=i`` line."""
    body = model_text.split("end of trees", 1)[0]
    heads = list(_TREE.finditer(body))
    starts = [m.end() for m in heads]
    ends = [*(m.start() for m in heads[1:]), len(body)]
    return [body[s:e].strip() + "\n" for s, e in zip(starts, ends, strict=True)]


def new_trees(booster: lgb.Booster, start: int) -> list[str]:
    """The tree blocks a booster grew after its first ``start`` trees."""
    if booster.num_trees() <= start:
        return []
    return tree_blocks(booster.model_to_string(start_iteration=start))


def scale_tree(block: str, weight: float) -> str:
    """A tree whose every output is multiplied by ``weight``."""
    weight = float(weight)  # a numpy scalar's repr ("np.float64(...)") is not model text
    lines = []
    for line in block.splitlines():
        key, _, values = line.partition("=")
        if key in _SCALED_KEYS:
            line = f"{key}=" + " ".join(repr(float(v) * weight) for v in values.split())
        lines.append(line)
    return "\n".join(lines) + "\n"


def leaf_counts(block: str) -> list[int]:
    """Training rows that fell in each leaf of a tree block."""
    for line in block.splitlines():
        if line.startswith("leaf_count="):
            return [int(v) for v in line.split("=", 1)[1].split()]
    return []


def assemble(names: Sequence[str], categorical: Sequence[str], blocks: Sequence[str]) -> str:
    """A complete binary-objective LightGBM model text over ``names`` from tree blocks."""
    if not blocks:
        raise ValueError("a model needs at least one tree")
    infos = [_CATEGORICAL_INFO if n in set(categorical) else _NUMERIC_INFO for n in names]
    trees = [f"Tree={i}\n{block.rstrip()}\n\n\n" for i, block in enumerate(blocks)]
    header = (
        "tree\nversion=v4\nnum_class=1\nnum_tree_per_iteration=1\nlabel_index=0\n"
        f"max_feature_idx={len(names) - 1}\nobjective=binary sigmoid:1\n"
        f"feature_names={' '.join(names)}\nfeature_infos={' '.join(infos)}\n"
        f"tree_sizes={' '.join(str(len(t.encode())) for t in trees)}\n\n"
    )
    return (
        header
        + "".join(trees)
        + "end of trees\n\nfeature_importances:\n\nparameters:\n[boosting: gbdt]\n"
        + "[objective: binary]\nend of parameters\n\npandas_categorical:null\n"
    )


def booster_from(
    names: Sequence[str], categorical: Sequence[str], blocks: Sequence[str]
) -> lgb.Booster:
    return lgb.Booster(model_str=assemble(names, categorical, blocks))

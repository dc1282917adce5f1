"""Model bundles: a versioned folder the engine loads, swaps and records on every decision.

A bundle is everything needed to reproduce a score: the model, its calibration, the exact
feature list and spec fingerprint it was trained on, where its data came from, its metrics,
and optionally the feature state at the end of training so that serving can start warm.

The model is a LightGBM booster (``model_kind`` "gbdt", every trained bundle) or another scorer
behind :class:`Scorer` (``model_kind`` "mlp": the federated MLP, :mod:`vigil.models.mlp`). The
engine sees only the bundle's ``scores``, ``attribution`` and ``version``, so both serve alike.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import lightgbm as lgb
import numpy as np

from vigil.features.blocks import FeatureBlock, load_blocks
from vigil.models.attribution import PathAttribution
from vigil.models.calibration import Calibrator

MANIFEST = "manifest.json"
BOOSTER = "model.txt"
COMPILED = "model.so"  # the booster compiled to machine code by lleaves, when it could be
CALIBRATION = "calibration.json"
STATE = "state"  # a folder: the feature store's snapshot and each block's
BLOCKS = "blocks"


class BundleError(ValueError):
    pass


class Scorer(Protocol):
    """A model other than a LightGBM booster, as a bundle holds it."""

    kind: str

    def raw_scores(self, matrix: np.ndarray, threads: int = 1) -> np.ndarray:
        """Uncalibrated probabilities, one per row."""
        ...

    def contributions(self, row: np.ndarray) -> np.ndarray:
        """Per-feature contributions to one row's logit; the last entry is the base value."""
        ...

    def attribution(self) -> Callable[[np.ndarray], np.ndarray]:
        """Per-feature contributions of one row (or of each row of a matrix, in one call),
        cheap enough for the decision's hot path."""
        ...

    def digest(self) -> str: ...

    def save(self, folder: Path) -> Path: ...


def _scorer_kinds() -> dict[str, Any]:
    from vigil.models.mlp import MlpScorer  # the loaders of non-GBDT kinds, by manifest kind

    return {MlpScorer.kind: MlpScorer}


@dataclass
class ModelBundle:
    #: the LightGBM model; None when ``scorer`` holds another kind of model
    booster: lgb.Booster | None
    calibrator: Calibrator
    features: list[str]
    categorical: list[str]
    spec_fingerprint: str
    data_fingerprint: str
    metrics: dict[str, float]
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    trained_until: datetime | None = None
    #: kinds of the learnt feature blocks (sequence, graph) whose features the model reads
    blocks: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None
    #: the model when it is not a booster (e.g. :class:`vigil.models.mlp.MlpScorer`)
    scorer: Scorer | None = None
    version: str = field(init=False)
    _compiled: Any = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        if (self.booster is None) == (self.scorer is None):
            raise BundleError("a bundle holds exactly one model: a booster or a scorer")
        # Computed once: the version is stamped on every decision, the model text is megabytes.
        if self.booster is not None:
            digest = hashlib.sha256(self.booster.model_to_string().encode()).hexdigest()[:8]
        else:
            digest = self.scorer.digest()[:8]
        self.version = f"{self.model_kind}-{self.created_at:%Y%m%dT%H%M%S}-{digest}"

    @property
    def model_kind(self) -> str:
        """``gbdt`` for a LightGBM booster, else the scorer's kind (``mlp``)."""
        return "gbdt" if self.scorer is None else self.scorer.kind

    def raw_scores(self, matrix: np.ndarray, threads: int = 1) -> np.ndarray:
        """The booster's probabilities, from its compiled form where the bundle has one.

        LightGBM's own predict costs ~30 µs for one row and ~16 µs a row in batches here, most
        of it walking trees through generic code; lleaves compiles the same trees to straight
        machine code (~10 µs and ~4 µs) with equal results (checked to 1e-12 in the tests).
        """
        if self.scorer is not None:
            return self.scorer.raw_scores(matrix, threads)
        if self._compiled is not None:
            return self._compiled.predict(matrix, n_jobs=threads)
        return self.booster.predict(matrix, num_threads=threads)

    @property
    def compiled(self) -> bool:
        return self._compiled is not None

    def compile(self, folder: Path) -> None:
        """Compile the booster to ``folder/model.so`` and score with it from now on (~1 min for
        a few hundred trees; done once, by `vigil train`). Other kinds have nothing to compile."""
        if self.booster is None:
            return
        import lleaves  # imported here: only compiling and loading compiled bundles need it

        target = Path(folder) / COMPILED
        target.unlink(missing_ok=True)  # never load a library compiled from another model
        model = lleaves.Model(model_file=str(Path(folder) / BOOSTER))
        model.compile(cache=str(target))
        self._compiled = model

    def scores(self, matrix: np.ndarray, threads: int = 1) -> np.ndarray:
        """Calibrated probabilities of fraud for each row; one thread for single payments (a
        thread pool costs more than it saves on one row), more for replay batches."""
        return self.calibrator(self.raw_scores(matrix, threads))

    def contributions(self, row: np.ndarray) -> np.ndarray:
        """SHAP values (TreeSHAP, in log-odds) of one row, or the scorer's own attribution
        (integrated gradients for the MLP); the last entry is the base value."""
        if self.scorer is not None:
            return self.scorer.contributions(row)
        return self.booster.predict(row.reshape(1, -1), pred_contrib=True, num_threads=1)[0]

    def attribution(self) -> Callable[[np.ndarray], np.ndarray]:
        """What the engine calls for decisions' model reasons: per-feature contributions of
        one row or of each row of a matrix, without the base value (path attribution for
        trees, see its module)."""
        if self.scorer is not None:
            return self.scorer.attribution()
        return PathAttribution(self.booster)

    def save(
        self,
        folder: Path,
        state: Path | None = None,
        blocks: Sequence[FeatureBlock] = (),
        compile: bool = False,
    ) -> Path:
        """Write the bundle; ``state`` is a folder from :meth:`OnlineFeatures.snapshot`;
        ``compile`` adds the booster compiled to machine code (see :meth:`raw_scores`)."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / COMPILED).unlink(missing_ok=True)  # compiled from a model no longer there
        if self.scorer is not None:
            (folder / BOOSTER).unlink(missing_ok=True)  # never load a booster of another model
            self.scorer.save(folder)
            compile = False
        else:
            self.booster.save_model(folder / BOOSTER)
        if compile:
            self.compile(folder)
        (folder / CALIBRATION).write_text(json.dumps(self.calibrator.to_dict()))
        if [b.kind for b in blocks] != self.blocks:
            raise BundleError(f"blocks given {[b.kind for b in blocks]}, bundle has {self.blocks}")
        for block in blocks:
            block.save(folder / BLOCKS / block.kind)
        if state is not None:
            shutil.rmtree(folder / STATE, ignore_errors=True)
            shutil.copytree(state, folder / STATE)
        manifest = {
            "version": self.version,
            "kind": self.model_kind,
            "model_kind": self.model_kind,
            "features": self.features,
            "categorical": self.categorical,
            "spec_fingerprint": self.spec_fingerprint,
            "data_fingerprint": self.data_fingerprint,
            "metrics": self.metrics,
            "created_at": self.created_at.isoformat(),
            "trained_until": self.trained_until.isoformat() if self.trained_until else None,
            "has_state": (folder / STATE).exists(),
            "blocks": self.blocks,
            "compiled": compile,
            **self.extra,
        }
        (folder / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True))
        self.path = folder
        return folder

    @classmethod
    def load(cls, folder: Path) -> ModelBundle:
        folder = Path(folder)
        try:
            manifest = json.loads((folder / MANIFEST).read_text())
        except FileNotFoundError:
            raise BundleError(
                f"{folder}: not a model bundle (no {MANIFEST}); run `vigil train`"
            ) from None
        # bundles written before model_kind existed are LightGBM's (their "kind" says so)
        kind = manifest.get("model_kind", manifest.get("kind", "gbdt"))
        booster, scorer = None, None
        if kind == "gbdt":
            missing = [name for name in (BOOSTER, CALIBRATION) if not (folder / name).exists()]
            if missing:
                raise BundleError(f"{folder}: bundle is incomplete, missing {missing}")
            booster = lgb.Booster(model_file=str(folder / BOOSTER))
            if booster.feature_name() != manifest["features"]:
                raise BundleError(f"{folder}: the booster's features differ from the manifest's")
        else:
            kinds = _scorer_kinds()
            if kind not in kinds:
                raise BundleError(
                    f"{folder}: manifest field model_kind is {kind!r}; known: gbdt, {sorted(kinds)}"
                )
            if not (folder / CALIBRATION).exists():
                raise BundleError(f"{folder}: bundle is incomplete, missing {[CALIBRATION]}")
            try:
                scorer = kinds[kind].load(folder)
            except ValueError as error:
                raise BundleError(f"{folder}: {error}") from None
            if getattr(scorer, "n_features", len(manifest["features"])) != len(
                manifest["features"]
            ):
                raise BundleError(
                    f"{folder}: the {kind}'s inputs differ from the manifest's features"
                )
        known = {
            "version",
            "kind",
            "model_kind",
            "features",
            "categorical",
            "spec_fingerprint",
            "data_fingerprint",
            "metrics",
            "created_at",
            "trained_until",
            "has_state",
            "blocks",
            "compiled",
        }
        until = manifest.get("trained_until")
        bundle = cls(
            booster=booster,
            calibrator=Calibrator.from_dict(json.loads((folder / CALIBRATION).read_text())),
            features=manifest["features"],
            categorical=manifest["categorical"],
            spec_fingerprint=manifest["spec_fingerprint"],
            data_fingerprint=manifest["data_fingerprint"],
            metrics=manifest["metrics"],
            created_at=datetime.fromisoformat(manifest["created_at"]),
            trained_until=datetime.fromisoformat(until) if until else None,
            blocks=manifest.get("blocks", []),
            extra={k: v for k, v in manifest.items() if k not in known},
            path=folder,
            scorer=scorer,
        )
        if bundle.version != manifest["version"]:
            raise BundleError(
                f"{folder}: model file does not match manifest version {manifest['version']}"
            )
        if manifest.get("compiled") and (folder / COMPILED).exists():
            bundle._load_compiled(folder)
        return bundle

    def _load_compiled(self, folder: Path) -> None:
        """Score with the compiled library; a library that will not load on this machine (built
        for another CPU) leaves LightGBM's predict in charge rather than failing the load."""
        import lleaves

        model = lleaves.Model(model_file=str(folder / BOOSTER))
        try:
            model.compile(cache=str(folder / COMPILED))
        except OSError as error:
            warnings.warn(
                f"{folder / COMPILED} did not load ({error}); using LightGBM", stacklevel=3
            )
            return
        self._compiled = model

    def load_blocks(self) -> list[FeatureBlock]:
        """Fresh (cold) instances of the feature blocks this bundle's model reads."""
        if not self.blocks:
            return []
        if self.path is None:
            raise BundleError("an unsaved bundle has no block files to load")
        return load_blocks(self.path / BLOCKS, self.blocks)

    @property
    def state_path(self) -> Path | None:
        if self.path is None or not (self.path / STATE).exists():
            return None
        return self.path / STATE


def fingerprint_files(paths: list[Path], salt: str = "") -> str:
    """A content hash of the data a bundle was trained on, for lineage in the manifest."""
    digest = hashlib.sha256(salt.encode())
    for path in sorted(paths):
        digest.update(path.name.encode())
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()[:16]

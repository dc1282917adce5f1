"""Online features: declarative specs, per-entity state, one path for serving and training."""

from vigil.features.accounts import AccountBook
from vigil.features.online import OnlineFeatures
from vigil.features.spec import FeatureSpec, default_feature_names, default_spec

__all__ = ["AccountBook", "FeatureSpec", "OnlineFeatures", "default_feature_names", "default_spec"]

"""Models: the synapse classifier (a random forest as arrays, calibrated), and its training
(:mod:`syconn.ml.synapse_training`, which imports scikit-learn)."""

from syconn.ml.forest import Forest, forest_from_sklearn, forest_proba
from syconn.ml.synapses import (
    FEATURES,
    SynapseModel,
    default_model_path,
    feature_matrix,
    load_model,
)

__all__ = ["Forest", "forest_from_sklearn", "forest_proba", "FEATURES", "SynapseModel",
           "default_model_path", "feature_matrix", "load_model"]

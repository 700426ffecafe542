"""Hand landmarks to the classifier's feature vector: in models/sign_features.py (the classifier
in models/ needs it, and models never import modalities); re-exported for the sign modality."""

from models.sign_features import FEATURE_DIM, HAND_DIM, features, features_batch, hand_features, palm_size

__all__ = ["FEATURE_DIM", "HAND_DIM", "features", "features_batch", "hand_features", "palm_size"]

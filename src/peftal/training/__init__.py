"""Training and inference: the loop, metrics, predictions."""

from peftal.training.metrics import METRICS, compute_metrics, primary_metric
from peftal.training.trainer import (
    TrainConfig,
    TrainResult,
    center_regression_head,
    embed,
    predict,
    softmax,
    train,
)

__all__ = ["METRICS", "TrainConfig", "TrainResult", "center_regression_head", "compute_metrics", "embed",
           "predict", "primary_metric", "softmax", "train"]

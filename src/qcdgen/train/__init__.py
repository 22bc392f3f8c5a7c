"""Training loops shared by every generative engine (no physics inside)."""

from qcdgen.train.ema import EMA
from qcdgen.train.trainer import TrainResult, TrainSettings, train_model

__all__ = ["EMA", "TrainResult", "TrainSettings", "train_model"]

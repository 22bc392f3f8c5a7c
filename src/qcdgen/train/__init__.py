"""Training loops shared by every generative engine (no physics inside)."""

from qcdgen.train.ema import EMA
from qcdgen.train.dataless import DatalessResult, DatalessSettings, train_dataless
from qcdgen.train.trainer import TrainResult, TrainSettings, train_model

__all__ = ["EMA", "DatalessResult", "DatalessSettings", "TrainResult", "TrainSettings", "train_dataless", "train_model"]

"""Neural-network building blocks that know nothing about physics domains."""

from qcdgen.nn.periodic_cnn import PeriodicScoreCNN

__all__ = ["PeriodicScoreCNN"]

"""Files: atomic writes, lattice ensembles (HDF5), checkpoints (.pt)."""

from qcdgen.io.atomic import atomic_path, atomic_write_text, check_writable
from qcdgen.io.checkpoint import load_checkpoint, load_matching_checkpoint, save_checkpoint
from qcdgen.io.ensemble import Ensemble, read_ensemble, write_ensemble

__all__ = ["atomic_path", "atomic_write_text", "check_writable", "load_checkpoint", "load_matching_checkpoint",
           "save_checkpoint", "Ensemble", "read_ensemble", "write_ensemble"]

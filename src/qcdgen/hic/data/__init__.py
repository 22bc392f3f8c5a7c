"""Measurements shipped with qcdgen, as calibration data files (``observable,class,value,error``).

:data:`SHIPPED` maps a short name to a file in this folder; each file's header names its sources.
``qcdgen infer calibrate EMU.pt alice-pbpb2760`` takes the name in place of a path.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["SHIPPED", "shipped_data_path"]

#: name -> (file, one-line description)
SHIPPED = {
    "alice-pbpb2760": ("alice_pbpb2760.csv",
                       "ALICE Pb-Pb 2.76 TeV: dNch/deta by class, v2{2}, v2{4}, identified <pT> in 0-5 %"),
}


def shipped_data_path(name: str) -> Path | None:
    """The path of the shipped data file called ``name``, or None if there is none."""
    entry = SHIPPED.get(name)
    return None if entry is None else Path(__file__).with_name(entry[0])

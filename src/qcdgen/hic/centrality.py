"""Centrality classes shared by the heavy-ion code (observables, validation, initial state, CLI)."""

from __future__ import annotations

__all__ = ["ALICE_CLASSES"]

#: ALICE's Pb–Pb centrality classes (percent) of the multiplicity and flow papers; the default
#: classes of ``qcdgen hic observe``, ``qcdgen hic validate`` and the initial-state calibration
ALICE_CLASSES = ((0, 5), (5, 10), (10, 20), (20, 30), (30, 40), (40, 50), (50, 60), (60, 70), (70, 80))

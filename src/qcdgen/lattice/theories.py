"""The lattice theories qcdgen knows, by the ``action`` attribute of their files.

Ensemble and model files carry their action's parameters (``action.to_dict()``, with ``action`` =
``"phi4"`` or ``"u1"``); :func:`action_from_dict` rebuilds the action and :func:`measure_field` the
theory's observables with Γ-method errors.
"""

from __future__ import annotations

from qcdgen.errors import InputError

THEORIES = ("phi4", "u1", "xy")


def action_from_dict(attrs: dict):
    """The action recorded in ``attrs`` (:class:`~qcdgen.lattice.actions.Phi4Action` or
    :class:`~qcdgen.lattice.u1.action.U1Action`)."""
    kind = attrs.get("action")
    if kind == "phi4":
        from qcdgen.lattice.actions import Phi4Action

        return Phi4Action.from_dict(attrs)
    if kind == "u1":
        from qcdgen.lattice.u1.action import U1Action

        return U1Action.from_dict(attrs)
    if kind == "xy":
        from qcdgen.lattice.xy.action import XYAction

        return XYAction.from_dict(attrs)
    raise InputError(f"unknown action {kind!r}; qcdgen knows {', '.join(THEORIES)}")


def measure_field(field, action, chains=None) -> dict:
    """Every observable of ``action``'s theory on ``field`` (configurations in Monte Carlo order per chain)."""
    if getattr(action, "to_dict")().get("action") == "u1":
        from qcdgen.lattice.u1.observables import measure_u1

        return measure_u1(field, action, chains=chains)
    if getattr(action, "to_dict")().get("action") == "xy":
        from qcdgen.lattice.xy.observables import measure_xy

        return measure_xy(field, action, chains=chains)
    from qcdgen.lattice.observables import measure

    return measure(field, action, chains=chains)

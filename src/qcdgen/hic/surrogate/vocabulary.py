"""The species vocabulary of the event surrogate: PDG codes ↔ class indices.

A :class:`SpeciesVocabulary` is an ordered list of K PDG Monte Carlo codes plus one final
class "other" (index K) that collects every code not in the list. The species head of the
surrogate predicts one of K + 1 classes; the decoder turns a class back into a particle with
the class's PDG code, its PDG mass and charge (:mod:`qcdgen.hic.species`).

"Other" is written out as one representative code, ``other_pdg``: the most frequent known
(PDG-table) code among the "other" particles of the training data, which
:func:`qcdgen.hic.surrogate.data.load_event_tensors` records when the vocabulary has none yet,
and :data:`FALLBACK_OTHER_PDG` (π⁰: neutral, so it cannot bias charged-particle
observables) when training saw no "other" particle. The mass *distribution* of the "other"
particles is out of scope: all of them get the mass of that one code.
"""

from __future__ import annotations

from collections import Counter
from typing import Mapping, Sequence

import numpy as np

from qcdgen.errors import InputError
from qcdgen.hic import species

__all__ = ["SpeciesVocabulary", "DEFAULT_CODES", "DEFAULT_VOCABULARY", "FALLBACK_OTHER_PDG", "OTHER_NAME"]

#: code written for "other" particles when no training data chose one (π⁰)
FALLBACK_OTHER_PDG = 111
OTHER_NAME = "other"

#: The default codes. The first 24 are exactly what the hydro-inspired generator emits (its
#: hadron gas after strong/EM decays, measured on Pb–Pb files). Added for the simulators users
#: bring: K⁰/K̄⁰ (UrQMD and SMASH write K⁰, not K⁰_S/K⁰_L), η, ω, φ (stable or long-lived in
#: UrQMD/SMASH output), Σ⁰/Σ̄⁰ (transport codes that switch off EM decays), e± and μ± (Pythia
#: Angantyr with τ₀ < 10 mm decays: Dalitz and semileptonic products).
DEFAULT_CODES = (
    211, -211, 111,                         # π+ π- π0
    321, -321, 310, 130, 311, -311,         # K+ K- K0S K0L K0 K0bar
    221, 223, 333,                          # η ω φ
    2212, -2212, 2112, -2112,               # p p̄ n n̄
    3122, -3122,                            # Λ Λ̄
    3222, -3222, 3212, -3212, 3112, -3112,  # Σ+ Σ̄- Σ0 Σ̄0 Σ- Σ̄+
    3312, -3312, 3322, -3322,               # Ξ- Ξ̄+ Ξ0 Ξ̄0
    3334, -3334,                            # Ω- Ω̄+
    22, 11, -11, 13, -13,                   # γ e- e+ μ- μ+
)


def _check_code(value, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise InputError(f"{what} must be an integer PDG code, got {value!r}")
    code = int(value)
    if code == 0 or not bool(species.is_known([code])[0]):
        raise InputError(f"{what} {code} is not a PDG code with a known mass in the particle table")
    return code


class SpeciesVocabulary:
    """K PDG codes plus a final "other" class; ``len(vocab) == K + 1``.

    ``index(pdg)`` maps codes to classes 0..K (unknown → K), ``pdg(index)`` maps back ("other"
    → ``other_pdg``, or :data:`FALLBACK_OTHER_PDG` while that is None). ``masses`` (GeV) and
    ``charges`` (e) have one entry per class, "other" using the code it is written as.
    """

    def __init__(self, codes: Sequence[int], other_pdg: int | None = None):
        if isinstance(codes, (str, bytes)) or not hasattr(codes, "__len__") or len(codes) == 0:
            raise InputError(f"vocabulary codes must be a non-empty list of PDG codes, got {codes!r}")
        checked = tuple(_check_code(c, "vocabulary code") for c in codes)
        dup = sorted(c for c, k in Counter(checked).items() if k > 1)
        if dup:
            raise InputError(f"vocabulary codes must be distinct; repeated: {dup}")
        if other_pdg is not None:
            other_pdg = _check_code(other_pdg, "other_pdg")
            if other_pdg in checked:
                raise InputError(f"other_pdg {other_pdg} is already a vocabulary class; "
                                 "'other' must stand for a code outside the list")
        self.codes = np.array(checked, dtype=np.int64)
        self.codes.flags.writeable = False
        self.other_pdg = other_pdg
        self._order = np.argsort(self.codes, kind="stable")
        self._sorted = self.codes[self._order]
        out_codes = np.append(self.codes, self.written_other_pdg)
        self.masses = species.mass(out_codes)
        self.charges = species.charge(out_codes)
        self.masses.flags.writeable = False
        self.charges.flags.writeable = False

    # -- basic facts ---------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.codes) + 1

    @property
    def other_index(self) -> int:
        return len(self.codes)

    @property
    def written_other_pdg(self) -> int:
        """The code an "other" particle is written as."""
        return FALLBACK_OTHER_PDG if self.other_pdg is None else self.other_pdg

    @property
    def names(self) -> list[str]:
        return [species.name(int(c)) for c in self.codes] + [OTHER_NAME]

    def __eq__(self, other) -> bool:
        return (isinstance(other, SpeciesVocabulary) and self.other_pdg == other.other_pdg
                and np.array_equal(self.codes, other.codes))

    def __hash__(self) -> int:
        return hash((tuple(self.codes.tolist()), self.other_pdg))

    def __repr__(self) -> str:
        return f"SpeciesVocabulary({len(self.codes)} codes + other, other_pdg={self.other_pdg})"

    # -- mapping -------------------------------------------------------------------------
    def index(self, pdg, return_unknown: bool = False):
        """Class index (int64, same shape as ``pdg``); codes outside the list → ``other_index``.

        With ``return_unknown=True`` also returns ``{code: count}`` of the codes sent to "other".
        """
        pdg = np.asarray(pdg)
        if pdg.dtype.kind not in "iu":
            raise InputError(f"pdg codes must be integers, got dtype {pdg.dtype}")
        pdg = pdg.astype(np.int64)
        pos = np.searchsorted(self._sorted, pdg)
        pos_c = np.minimum(pos, len(self._sorted) - 1)
        found = self._sorted[pos_c] == pdg
        out = np.where(found, self._order[pos_c], self.other_index).astype(np.int64)
        if not return_unknown:
            return out
        codes, counts = np.unique(pdg[~found], return_counts=True)
        return out, dict(zip(codes.tolist(), counts.tolist()))

    def pdg(self, index) -> np.ndarray:
        """PDG codes (int64) of class indices; "other" → :attr:`written_other_pdg`."""
        index = self._check_index(index)
        return np.append(self.codes, self.written_other_pdg)[index]

    def _check_index(self, index) -> np.ndarray:
        index = np.asarray(index)
        if index.dtype.kind not in "iu":
            raise InputError(f"species indices must be integers, got dtype {index.dtype}")
        if index.size and (index.min() < 0 or index.max() >= len(self)):
            raise InputError(f"species indices must lie in [0, {len(self) - 1}], "
                             f"got values from {int(index.min())} to {int(index.max())}")
        return index.astype(np.int64)

    def with_other(self, other_pdg: int | None) -> "SpeciesVocabulary":
        """The same classes with "other" written as ``other_pdg``."""
        return SpeciesVocabulary(self.codes.tolist(), other_pdg)

    def choose_other(self, unknown_counts: Mapping[int, int]) -> "SpeciesVocabulary":
        """Fix ``other_pdg`` to the most frequent known code of ``unknown_counts`` (ties: smallest |code|,
        then the positive one); unchanged if ``other_pdg`` is already set or none is known."""
        if self.other_pdg is not None:
            return self
        known = [(-n, abs(c), -c) for c, n in unknown_counts.items()
                 if n > 0 and c != 0 and bool(species.is_known([c])[0])]
        return self if not known else self.with_other(-min(known)[2])

    # -- storage -------------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {"codes": self.codes.tolist(), "other_pdg": self.other_pdg}

    @classmethod
    def from_dict(cls, data: Mapping) -> "SpeciesVocabulary":
        if not isinstance(data, Mapping) or "codes" not in data:
            raise InputError(f"a stored species vocabulary needs a 'codes' entry, got {data!r}")
        return cls(list(data["codes"]), data.get("other_pdg"))


DEFAULT_VOCABULARY = SpeciesVocabulary(DEFAULT_CODES)

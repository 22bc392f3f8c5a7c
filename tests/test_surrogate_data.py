"""Data layer of the event surrogate: vocabulary, event ↔ tensor round trips, canonical frame, batches."""

import awkward as ak
import numpy as np
import pytest
import torch

from qcdgen.errors import InputError, NaNError
from qcdgen.hic import species as pdg_facts
from qcdgen.hic.events import EventWriter, kinematics, make_events, read_events, write_events
from qcdgen.hic.observables.flow import QVectors
from qcdgen.hic.observables.spectra import FlatParticles
from qcdgen.hic.surrogate import (
    DEFAULT_VOCABULARY, FALLBACK_OTHER_PDG, SUMMARY_NAMES, ConditionScaler, SpeciesVocabulary,
    events_to_tensors, load_event_tensors, random_rotation, sample_batch, tensors_to_events, train_test_split,
)
from qcdgen.hic.surrogate import batches as batches_module

HYDRO_CODES = (111, 211, -211, 321, -321, 130, 310, 22, 2212, -2212, 2112, -2112, 3122, -3122,
               3222, -3222, 3112, -3112, 3312, -3312, 3322, -3322, 3334, -3334)
#: float32 features (log pT, η, φ) reproduce momenta to this fraction of |p| (and of E)
REL_TOL = 1e-6


@pytest.fixture(scope="module")
def events():
    from qcdgen.hic.generation import make_generator

    gen = make_generator("blastwave", system="PbPb", sqrts=2760.0, centrality=(60, 70))
    ev, _ = gen.generate(12, np.random.default_rng(11))
    return ev


@pytest.fixture(scope="module")
def tensors(events):
    return events_to_tensors(events, ["eta_s", "b", "centrality"])


def _flat(events, name):
    return ak.to_numpy(ak.flatten(events.particles[name])).astype(np.float64)


# -- vocabulary --------------------------------------------------------------------------------
def test_default_vocabulary_covers_generator_and_antiparticles():
    codes = set(DEFAULT_VOCABULARY.codes.tolist())
    assert set(HYDRO_CODES) <= codes
    hadrons = [c for c in codes if abs(c) > 100]
    assert len(hadrons) >= 20
    for c in codes:   # every charged hadron/lepton and every baryon comes with its antiparticle
        if pdg_facts.charge([c])[0] != 0 or pdg_facts.baryon_number([c])[0] != 0:
            assert -c in codes, c
    assert len(DEFAULT_VOCABULARY) == len(codes) + 1
    assert DEFAULT_VOCABULARY.names[-1] == "other"


def test_vocabulary_index_pdg_round_trip_and_unknown_counted():
    v = DEFAULT_VOCABULARY
    idx = v.index(v.codes)
    assert np.array_equal(idx, np.arange(len(v.codes)))
    assert np.array_equal(v.pdg(idx), v.codes)
    pdg = np.array([[211, 1000010020], [999999, 1000010020]], dtype=np.int32)
    idx, unknown = v.index(pdg, return_unknown=True)
    assert idx.dtype == np.int64 and idx.shape == (2, 2)
    assert idx[0, 0] == v.index([211])[0] and (idx.reshape(-1)[1:] == v.other_index).all()
    assert unknown == {999999: 1, 1000010020: 2}
    assert v.pdg([v.other_index])[0] == FALLBACK_OTHER_PDG
    assert np.array_equal(v.masses[:-1], pdg_facts.mass(v.codes))
    assert np.array_equal(v.charges[:-1], pdg_facts.charge(v.codes))


def test_vocabulary_storage_and_choice_of_other():
    v = SpeciesVocabulary([211, -211, 2212])
    chosen = v.choose_other({111: 5, 999999: 50, 321: 7, -321: 7})   # 999999 has no PDG mass
    assert chosen.other_pdg == 321            # most frequent known; tie → smaller |code|, then positive
    assert chosen.masses[-1] == pdg_facts.mass([321])[0] and chosen.charges[-1] == 1
    assert chosen.choose_other({111: 100}) is chosen                   # a set choice is kept
    assert SpeciesVocabulary.from_dict(chosen.to_dict()) == chosen
    assert SpeciesVocabulary.from_dict(v.to_dict()) == v != chosen


@pytest.mark.parametrize("codes, other, match", [
    ([211, 211], None, "distinct"), ([211, 999999], None, "999999"), ([], None, "non-empty"),
    ([211], 211, "already"), ([211.0], None, "integer"),
])
def test_vocabulary_refuses_bad_codes(codes, other, match):
    with pytest.raises(InputError, match=match):
        SpeciesVocabulary(codes, other)


# -- events ↔ tensors ------------------------------------------------------------------------------
def test_layout_and_dtypes(events, tensors):
    E, P = len(events), int(ak.sum(ak.num(events.particles)))
    assert tensors.features.shape == (P, 3) and tensors.features.dtype == torch.float32
    assert tensors.species.shape == (P,) and tensors.species.dtype == torch.int64
    assert tensors.offsets.shape == (E + 1,) and tensors.offsets[0] == 0 and tensors.offsets[-1] == P
    assert torch.equal(tensors.offsets.diff(), tensors.n)
    assert np.array_equal(tensors.n.numpy(), ak.to_numpy(ak.num(events.particles)))
    assert tensors.summaries.shape == (E, len(SUMMARY_NAMES)) and tensors.summaries.dtype == torch.float32
    assert tensors.psi2.dtype == torch.float64 and tensors.conditions.dtype == torch.float64
    for j, name in enumerate(tensors.condition_names):
        assert np.array_equal(tensors.conditions[:, j].numpy(), ak.to_numpy(events[name]))
    assert tensors.stats["unknown_codes"] == {} and tensors.vocabulary.other_pdg is None


def test_round_trip_reproduces_every_particle(events, tensors):
    back = tensors.to_events()
    assert np.array_equal(ak.to_numpy(ak.num(back.particles)), ak.to_numpy(ak.num(events.particles)))
    p = np.sqrt(sum(_flat(events, k) ** 2 for k in ("px", "py", "pz")))
    for name in ("px", "py", "pz"):
        assert np.all(np.abs(_flat(back, name) - _flat(events, name)) <= REL_TOL * p), name
    assert np.all(np.abs(_flat(back, "E") - _flat(events, "E")) <= REL_TOL * _flat(events, "E"))
    for name in ("pdg", "charge"):
        assert np.array_equal(_flat(back, name), _flat(events, name)), name
    assert np.allclose(_flat(back, "mass"), _flat(events, "mass"), rtol=1e-15, atol=0)   # PDG masses
    for name in ("eta_s", "b", "centrality"):
        assert np.array_equal(ak.to_numpy(back[name]), ak.to_numpy(events[name]))


def test_canonical_frame_and_summaries_match_independent_q_vectors(events, tensors):
    flat = FlatParticles.from_events(events)
    qv = QVectors(flat.phi, flat.event, flat.n_events)
    n = qv.multiplicity
    q2, q3 = qv.q(2), qv.q(3)
    psi2 = tensors.psi2.numpy()
    assert np.allclose(psi2, np.angle(q2) / 2, rtol=0, atol=1e-12)
    s = tensors.summaries.numpy().astype(np.float64)
    assert np.allclose(s[:, 0], np.abs(q2) / n, rtol=2e-7, atol=0)
    assert np.allclose(s[:, 1], np.abs(q3) / n, rtol=2e-7, atol=0)
    assert np.allclose(s[:, 3], np.bincount(flat.event, flat.pt) / n, rtol=2e-7, atol=0)
    # canonical frame from the stored float32 φ_c: Q2 real positive, |Q2| and |Q3| unchanged
    phi_c = tensors.features[:, 2].double().numpy()
    assert np.all(np.abs(phi_c) <= np.float32(np.pi))
    qc = QVectors(phi_c, flat.event, flat.n_events)
    # each φ_c is rounded by at most half a float32 ulp of π (2^-22), so |Im Q_h| <= h N 2^-22 per event
    assert np.all(qc.q(2).real > 0)
    assert np.all(np.abs(qc.q(2).imag) <= 2 * n * 2.0 ** -22)
    assert np.allclose(np.abs(qc.q(2)), np.abs(q2), rtol=0, atol=1e-9 + 2 * 2.0 ** -22 * n.max())
    assert np.allclose(np.abs(qc.q(3)), np.abs(q3), rtol=0, atol=1e-9 + 3 * 2.0 ** -22 * n.max())
    # Ψ3 in the canonical frame is the lab Ψ3 − Ψ2 (mod 2π/3)
    d = np.angle(q3) / 3 - psi2 - s[:, 2]
    assert np.allclose(np.angle(np.exp(3j * d)), 0, atol=1e-6)


def test_acceptance_cut_and_zero_pt_guard():
    ev = make_events([4, 2], {"px": [1.0, 0.0, 0.3, 0.2, 0.5, 0.4], "py": [0.0, 0.0, 0.1, 0.2, 0.5, -0.4],
                              "pz": [0.0, 1.0, 10.0, -0.1, 0.2, 0.0], "E": [2.0] * 6, "mass": [0.13957] * 6,
                              "pdg": [211] * 6, "charge": [1] * 6}, eta_s=0.1)
    t = events_to_tensors(ev, "eta_s", eta_max=1.0)
    eta = ak.to_numpy(ak.flatten(kinematics(ev.particles).eta))
    pt = np.hypot(_flat(ev, "px"), _flat(ev, "py"))
    keep = (pt > 0) & (np.abs(eta) < 1.0)
    assert t.stats["dropped_zero_pt"] == 1 and t.stats["dropped_eta"] == int(((pt > 0) & ~keep).sum())
    assert t.n.tolist() == [int(keep[:4].sum()), int(keep[4:].sum())]
    assert np.allclose(t.features[:, 0].numpy(), np.log(pt[keep]), atol=1e-6)
    far = ak.with_field(ev, ev.particles.px * 0 + 50.0, ["particles", "pz"])   # every |η| > 1 or pT = 0
    empty = events_to_tensors(far, [], eta_max=1.0)       # nothing kept: N = 0 and zero summaries
    assert empty.n.tolist() == [0, 0] and torch.all(empty.summaries == 0) and torch.all(empty.psi2 == 0)
    assert empty.conditions.shape == (2, 0)
    px = _flat(ev, "px")
    px[5] = np.inf
    broken = ak.with_field(ev, ak.unflatten(px, [4, 2]), ["particles", "px"])
    with pytest.raises(InputError, match="event 1 has a non-finite particle px"):
        events_to_tensors(broken)


def test_unknown_species_become_other(events):
    vocab = SpeciesVocabulary([211, -211, 2212, -2212])
    t = events_to_tensors(events, [], vocabulary=vocab)
    codes = ak.to_numpy(ak.flatten(events.particles.pdg)).astype(np.int64)
    outside = ~np.isin(codes, vocab.codes)
    u, c = np.unique(codes[outside], return_counts=True)
    assert t.stats["unknown_codes"] == dict(zip(u.tolist(), c.tolist()))
    assert np.array_equal(t.species.numpy() == vocab.other_index, outside)
    assert t.vocabulary.other_pdg == int(u[np.argmax(c)])   # most frequent (all are PDG-known here)
    back = t.to_events()
    assert np.array_equal(_flat(back, "pdg")[outside], np.full(outside.sum(), t.vocabulary.other_pdg))
    assert np.array_equal(_flat(back, "pdg")[~outside], codes[~outside])


def test_streaming_over_row_groups_equals_reading_at_once(events, tensors, tmp_path):
    path = tmp_path / "three.parquet"
    with EventWriter(path) as out:
        for sl in (slice(0, 5), slice(5, 7), slice(7, None)):
            out.write(events[sl])
    streamed = load_event_tensors(path, ["eta_s", "b", "centrality"], progress=False)
    for name in ("features", "species", "offsets", "n", "summaries", "psi2", "conditions"):
        assert torch.equal(getattr(streamed, name), getattr(tensors, name)), name
    assert streamed.scaler == tensors.scaler and streamed.stats["events_read"] == len(events)
    # max_events cuts inside the second row group; two files are concatenated
    first6 = load_event_tensors([path], ["eta_s"], max_events=6, progress=False)
    assert torch.equal(first6.features, tensors.features[: int(tensors.offsets[6])])
    both = load_event_tensors([path, path], "eta_s,b", progress=False)
    assert both.n_events == 2 * len(events) and torch.equal(both.n, torch.cat([tensors.n, tensors.n]))


def test_condition_errors(events, tmp_path):
    with pytest.raises(InputError, match=r"\['beta2'\].*available: \['centrality', 'sqrts', 'eta_s', 'b'\]"):
        events_to_tensors(events, ["eta_s", "beta2"])
    with pytest.raises(InputError, match="distinct"):
        events_to_tensors(events, ["b", "b"])
    b = ak.to_numpy(events.b).copy()
    b[7] = np.nan
    bad = ak.with_field(events, b, "b")
    path = tmp_path / "nan.parquet"
    write_events(path, bad, row_group_events=5)
    with pytest.raises(InputError, match="'b' is nan in event 7"):
        load_event_tensors(path, ["b"], progress=False)
    assert load_event_tensors(path, ["eta_s"], progress=False).n_events == len(events)   # b unused: fine
    with pytest.raises(InputError, match="not event fields"):
        load_event_tensors(path, ["npart"], progress=False)
    for kw in ({"eta_max": 0.0}, {"eta_max": float("nan")}, {"max_events": 0}):
        with pytest.raises(InputError, match=next(iter(kw))):
            load_event_tensors(path, [], progress=False, **kw)


def test_condition_scaler():
    x = np.array([[1.0, 5.0, 0.08], [3.0, 5.0, 0.16], [8.0, 5.0, 0.24]])
    s = ConditionScaler.fit(["b", "sqrts", "eta_s"], x)
    z = s.transform(x)
    assert np.allclose(z.mean(axis=0), 0, atol=1e-15)
    assert np.allclose(z[:, [0, 2]].std(axis=0), 1) and s.std[1] == 1.0 and np.all(z[:, 1] == 0)
    assert np.allclose(s.inverse(z), x, rtol=1e-15, atol=1e-15)
    zt = s.transform(torch.tensor(x, dtype=torch.float32))
    assert zt.dtype == torch.float32 and torch.allclose(zt, torch.tensor(z, dtype=torch.float32))
    assert ConditionScaler.from_dict(s.to_dict()) == s
    x_nan = x.copy()
    x_nan[1, 1] = np.nan
    with pytest.raises(InputError, match="'sqrts'.*row 1"):
        ConditionScaler.fit(["b", "sqrts", "eta_s"], x_nan)
    with pytest.raises(InputError, match="last dimension 3"):
        s.transform(np.zeros((2, 2)))


# -- batches -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("vectorised", [True, False])
def test_sample_batch_is_an_exact_subsample(tensors, monkeypatch, vectorised):
    if not vectorised:
        monkeypatch.setattr(batches_module, "VECTORISED_MAX_KEYS", 0)
    idx = torch.tensor([3, 0, 3, 11, 5])
    k = int(tensors.n[[0, 3]].min()) + 10          # some events have fewer than k particles, some more
    batch = sample_batch(tensors, idx, k, torch.Generator().manual_seed(4))
    n = tensors.n[idx]
    assert batch.features.shape == (5, k, 3) and batch.mask.shape == (5, k) and batch.species.shape == (5, k)
    assert torch.equal(batch.mask.sum(1), n.clamp(max=k)) and torch.equal(batch.n, n)
    for b, e in enumerate(idx.tolist()):
        rows = batch.particle_idx[b][batch.mask[b]]
        assert len(set(rows.tolist())) == len(rows)                       # without replacement
        assert rows.min() >= tensors.offsets[e] and rows.max() < tensors.offsets[e + 1]
        assert torch.equal(batch.features[b][batch.mask[b]], tensors.features[rows])
        assert torch.equal(batch.species[b][batch.mask[b]], tensors.species[rows])
        if n[b] <= k:                                                       # small event: all of it
            assert sorted(rows.tolist()) == list(range(tensors.offsets[e], tensors.offsets[e + 1]))
    pad = ~batch.mask
    assert torch.all(batch.features[pad] == 0) and torch.all(batch.species[pad] == 0)
    assert torch.all(batch.particle_idx[pad] == -1)
    assert torch.equal(batch.summaries, tensors.summaries[idx])
    assert torch.allclose(batch.conditions, tensors.scaler.transform(tensors.conditions[idx]).float())
    again = sample_batch(tensors, idx, k, torch.Generator().manual_seed(4))
    assert torch.equal(again.particle_idx, batch.particle_idx)
    other = sample_batch(tensors, idx, k, torch.Generator().manual_seed(5))
    assert not torch.equal(other.particle_idx, batch.particle_idx)


def test_sample_batch_inputs(tensors):
    g = torch.Generator().manual_seed(0)
    for bad in ([len(tensors.n)], [-1], [0.5]):
        with pytest.raises(InputError, match="event_idx"):
            sample_batch(tensors, torch.tensor(bad), 8, g)
    with pytest.raises(InputError, match="k_particles"):
        sample_batch(tensors, [0], 0, g)


def test_train_test_split():
    train, test = train_test_split(50, 0.2, seed=3)
    assert len(test) == 10 and len(train) == 40 and train.dtype == torch.int64
    assert sorted(torch.cat([train, test]).tolist()) == list(range(50))
    assert torch.equal(train_test_split(50, 0.2, seed=3)[1], test)
    with pytest.raises(InputError, match="fraction"):
        train_test_split(50, 1.0, seed=3)


# -- tensors → events --------------------------------------------------------------------------------
def test_subset_matches_selection(tensors):
    idx = [4, 1]
    sub = tensors.subset(idx)
    assert torch.equal(sub.n, tensors.n[idx])
    rows = torch.cat([torch.arange(int(tensors.offsets[i]), int(tensors.offsets[i + 1])) for i in idx])
    assert torch.equal(sub.features, tensors.features[rows])
    assert ak.to_list(sub.to_events()) == ak.to_list(tensors.to_events()[idx])


def test_generated_tensors_make_a_valid_event_file(tensors, tmp_path):
    g = torch.Generator().manual_seed(2)
    n = tensors.n[:3]
    P = int(n.sum())
    rot = random_rotation(3, g)
    assert rot.dtype == torch.float64 and torch.all((rot >= 0) & (rot < 2 * np.pi))
    f = tensors.features[:P]
    ev = tensors_to_events(n, tensors.species[:P], f[:, 0], f[:, 1], f[:, 2],
                           {"eta_s": 0.12, "b": torch.tensor([9.0, 10.0, 11.0])}, tensors.vocabulary, rotation=rot)
    path = tmp_path / "gen.parquet"
    write_events(path, ev)
    back = read_events(path)
    assert back.fields == ["particles", "b", "npart", "ncoll", "eta_s"]
    assert ak.to_numpy(back.b).tolist() == [9.0, 10.0, 11.0] and np.all(ak.to_numpy(back.eta_s) == 0.12)
    flat = FlatParticles.from_events(back)      # what `qcdgen hic observe` builds on
    # a rotation changes φ only: pT and η come back unchanged
    assert np.allclose(np.log(flat.pt), f[:, 0].double().numpy(), atol=1e-12)
    assert np.allclose(flat.eta, f[:, 1].double().numpy(), atol=1e-9)
    m = _flat(back, "mass")
    assert np.allclose(_flat(back, "E") ** 2, flat.pt ** 2 + _flat(back, "pz") ** 2 + m ** 2, rtol=1e-12)


def test_tensors_to_events_refuses_bad_values(tensors):
    v, n = tensors.vocabulary, torch.tensor([2, 1])
    ok = torch.zeros(3)
    with pytest.raises(NaNError, match="eta"):
        tensors_to_events(n, torch.zeros(3, dtype=torch.int64), ok, torch.tensor([0.0, float("nan"), 1.0]), ok, {}, v)
    with pytest.raises(NaNError, match="overflow"):
        tensors_to_events(n, torch.zeros(3, dtype=torch.int64), torch.tensor([800.0, 0, 0]), ok, ok, {}, v)
    with pytest.raises(InputError, match="species indices"):
        tensors_to_events(n, torch.tensor([0, len(v), 0]), ok, ok, ok, {}, v)
    with pytest.raises(InputError, match="shape"):
        tensors_to_events(n, torch.zeros(4, dtype=torch.int64), ok, ok, ok, {}, v)
    with pytest.raises(InputError, match="npart"):
        tensors_to_events(n, torch.zeros(3, dtype=torch.int64), ok, ok, ok, {"npart": 3}, v)


def test_scaler_treats_round_off_spread_as_constant():
    """np.std of 24 copies of 0.08 is ~1e-17, not 0: such a column must not blow conditions up by 1e16."""
    from qcdgen.hic.surrogate.data import ConditionScaler

    values = np.column_stack([np.full(24, 0.08), np.linspace(12, 13, 24)])
    sc = ConditionScaler.fit(["eta_s", "b"], values)
    assert sc.std[0] == 1.0 and sc.std[1] > 0.1
    np.testing.assert_allclose(sc.transform(np.array([[0.12, 12.5]]))[0, 0], 0.04, rtol=1e-12)

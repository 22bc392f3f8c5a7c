"""``qcdgen hic train | sample | finetune`` end to end on small real events (the physics of the
model is tested in test_surrogate_model.py, of the comparison in test_surrogate_validate.py)."""

import numpy as np
import pytest

from qcdgen.cli.main import main
from qcdgen.hic.events import read_events, write_events
from qcdgen.hic.generation import make_generator

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    out = tmp_path_factory.mktemp("surrogate")
    paths = {}
    for key, eta_s, seed in (("a", 0.08, 1), ("b", 0.2, 2)):
        gen = make_generator("blastwave", system="PbPb", sqrts=2760.0, centrality=(60, 70), eta_s=eta_s)
        events, _ = gen.generate(24, np.random.default_rng(seed))
        paths[key] = out / f"{key}.parquet"
        write_events(paths[key], events)
    model = out / "s.pt"
    assert main(["hic", "train", str(paths["a"]), str(paths["b"]), "--condition", "eta_s,b", "--out", str(model),
                 "--steps", "15", "--batch-events", "8", "--k-particles", "64", "--no-progress"]) == 0
    paths["model"] = model
    return paths


def test_train_writes_model_and_removes_checkpoint(files):
    assert files["model"].stat().st_size > 100_000
    assert not files["model"].with_name(files["model"].name + ".ckpt.pt").exists()


def test_sample_like_copies_conditions_event_by_event(files, tmp_path):
    out = tmp_path / "g.parquet"
    assert main(["hic", "sample", str(files["model"]), "--like", str(files["b"]), "--out", str(out),
                 "--no-progress"]) == 0
    gen, ref = read_events(out), read_events(files["b"])
    assert len(gen) == len(ref)
    for field in ("eta_s", "b", "centrality"):
        np.testing.assert_array_equal(np.asarray(gen[field]), np.asarray(ref[field]))
    pdg = np.unique(np.concatenate([np.asarray(p) for p in gen.particles.pdg]))
    assert pdg.size > 1                                   # species are drawn, not one class


def test_sample_fixed_condition_and_finetune(files, tmp_path):
    out = tmp_path / "g.parquet"
    assert main(["hic", "sample", str(files["model"]), "--condition", "eta_s=0.12,b=12", "--events", "7",
                 "--out", str(out), "--no-progress"]) == 0
    gen = read_events(out)
    assert len(gen) == 7 and np.all(np.asarray(gen.eta_s) == 0.12) and np.all(np.asarray(gen.b) == 12.0)
    tuned = tmp_path / "t.pt"
    assert main(["hic", "finetune", str(files["model"]), str(files["a"]), "--out", str(tuned), "--steps", "5",
                 "--batch-events", "4", "--k-particles", "32", "--no-progress"]) == 0
    assert tuned.stat().st_size > 100_000


@pytest.mark.parametrize("argv,message", [
    (["sample", "MODEL", "--out", "OUT", "--events", "3"], "exactly one of --condition"),
    (["sample", "MODEL", "--out", "OUT", "--events", "3", "--condition", "eta_s=0.1"], "missing: b"),
    (["sample", "MODEL", "--out", "OUT", "--events", "3", "--condition", "eta_s=0.1,b=x"], "b must be a number"),
    (["sample", "MODEL", "--out", "OUT", "--events", "0", "--condition", "eta_s=0.1,b=1"], "--events must be"),
    (["train", "A", "--condition", "beta9", "--out", "OUT"], "beta9"),
    (["sample", "A", "--out", "OUT", "--events", "3", "--condition", "eta_s=0.1,b=1"], "surrogate"),
])
def test_bad_input_is_one_line(files, tmp_path, capsys, argv, message):
    subst = {"MODEL": str(files["model"]), "OUT": str(tmp_path / "o.parquet"), "A": str(files["a"])}
    rc = main(["hic", *[subst.get(a, a) for a in argv], "--no-progress"])
    err = capsys.readouterr().err
    assert rc == 2 and message in err and len(err.strip().splitlines()) == 1, err

"""The sampler study on a tiny free-field lattice: row fields, exact log Z, validation against HMC,
resume, the HTML report and the CLI; cost and payoff of a hand-computed case."""

import json
import math
import re
from dataclasses import replace
from statistics import NormalDist

import pytest

from qcdgen.cli.main import main
from qcdgen.errors import InputError
from qcdgen.lattice.compare_samplers import SAMPLERS, CompareSettings, SamplerRow, assign_payoffs, compare_samplers
from qcdgen.lattice.exact import free_log_partition
from qcdgen.lattice.observables import derived_names
from qcdgen.report.sampler_study import write_study_report
from qcdgen.runtime import torch_threads

pytestmark = pytest.mark.usefixtures("one_thread")

SIZE, KAPPA = 4, 0.2  # free field (λ = 0): m² = 1/κ − 4 = 1, log Z exact
# A correct sampler fails a 3σ cut on one of ~26 observables in several per cent of runs; the test
# allows each comparison a 1% family-wise false-failure rate (Bonferroni over the pull table).
N_OBSERVABLES = len(derived_names(SIZE, 2))
MAX_PULL = NormalDist().inv_cdf(1 - 0.01 / (2 * N_OBSERVABLES))
SETTINGS = CompareSettings(sizes=(SIZE,), kappas=(KAPPA,), lam=0.0, preset="quick", max_abs_pull=MAX_PULL)
FIELDS = ("sampler", "size", "kappa", "exact", "configs_per_second", "acceptance", "acceptance_error",
          "importance_ess", "tau_int", "tau_int_error", "cost_seconds", "cost_error_seconds", "train_seconds",
          "payoff_configs", "log_z", "log_z_error", "max_abs_pull", "passed", "ensemble")


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    out = tmp_path_factory.mktemp("study")
    with torch_threads(1):
        return compare_samplers(SETTINGS, out, progress=False)


def test_every_row_has_the_fields(study):
    rows = study.to_dict()["rows"]
    assert [r["sampler"] for r in rows] == list(SAMPLERS)
    for r in rows:
        assert set(FIELDS) <= set(r)
        assert r["size"] == SIZE and r["kappa"] == KAPPA and r["configs_per_second"] > 0
        assert 0 <= r["acceptance"] <= 1 and r["tau_int"] >= 0.5 - 3 * r["tau_int_error"]
        if r["sampler"] in ("hmc", "hmc-fa"):
            assert r["train_seconds"] is None and r["log_z"] is None and r["payoff_configs"] is None
        else:
            assert r["train_seconds"] > 0 and 0 < r["importance_ess"] <= 1
            assert r["exact"] is True  # 16 sites: exact log q for the diffusion model too
    json.loads(study.to_json())  # strict JSON


def test_cost_and_payoff_of_a_hand_computed_case():
    """HMC at 200 trajectories/s with tau_int = 2.5 pays 2 x 2.5 / 200 = 0.025 s per independent configuration,
    Fourier-accelerated HMC at 400/s with tau_int = 1 pays 0.005 s. An exact generator (every proposal
    independent, tau_int = 1/2) at 1000 proposals/s pays 0.001 s, so its 40 s of training are recovered
    after 40 / (0.005 - 0.001) = 10^4 independent configurations; a sticky one (tau_int = 10 at 100/s,
    0.2 s) never pays off."""
    def row(sampler, rate, tau, train=None, configs=5000):
        return SamplerRow(sampler=sampler, size=8, kappa=0.2, lam=0.0, exact=True, configs=configs,
                          configs_per_second=rate, acceptance=1.0, acceptance_error=0.0, tau_int=tau,
                          tau_int_error=0.1 * tau, train_seconds=train)

    rows = [row("hmc", 200.0, 2.5), row("hmc-fa", 400.0, 1.0), row("flow", 1000.0, 0.5, train=40.0),
            row("path", 100.0, 10.0, train=1.0)]
    assign_payoffs(rows)
    hmc, fa, exact, sticky = rows
    assert [r.cost for r in rows] == pytest.approx([0.025, 0.005, 0.001, 0.2])
    assert exact.cost_error == pytest.approx(1e-4) and exact.independent_configs == pytest.approx(5000)
    assert hmc.payoff_configs is None and fa.payoff_configs is None
    assert exact.payoff_configs == pytest.approx(1e4)
    assert math.isinf(sticky.payoff_configs) and sticky.to_dict()["payoff_configs"] == "never"


def test_free_field_log_z_agrees_with_the_exact_partition_function(study):
    exact = free_log_partition(SIZE, KAPPA, 2)
    rows = {r.sampler: r for r in study.rows}
    for name in ("flow", "path"):  # log<e^{-S}/q> (flow) and log<e^{-W}> (path): both consistent estimators
        r = rows[name]
        assert abs(r.log_z - exact) < 3 * r.log_z_error, name


def test_every_corrected_sampler_agrees_with_hmc(study):
    for r in study.rows:
        if r.sampler == "hmc":
            assert r.passed is None and r.max_abs_pull is None
        else:
            assert r.passed, f"{r.sampler}: max |pull| {r.max_abs_pull:.2f} >= {MAX_PULL:.2f} or a failed check"
    assert study.passed


def test_resume_skips_finished_rows(study, monkeypatch):
    import qcdgen.lattice.compare_samplers.point as point

    def refuse(*args, **kwargs):
        raise AssertionError("a finished row was recomputed")

    for name in ("_run_hmc", "_run_generative", "_validate"):
        monkeypatch.setattr(point, name, refuse)
    again = compare_samplers(SETTINGS, study.out_dir, progress=False)
    assert len(again.reused) == len(SAMPLERS)
    assert [r.to_dict() for r in again.rows] == [r.to_dict() for r in study.rows]
    # a changed flow setting makes only the flow row unfinished: it is rerun, the rows before it are reused
    class Ran(Exception):
        pass

    def run_generative(spec, *args, **kwargs):
        if spec.name != "flow":
            raise AssertionError(f"the finished {spec.name} row was recomputed")
        raise Ran

    monkeypatch.setattr(point, "_run_generative", run_generative)
    with pytest.raises(Ran):
        compare_samplers(replace(SETTINGS, flow_steps=7), study.out_dir, progress=False)


def test_html_report_is_written_and_self_contained(study, tmp_path):
    path = tmp_path / "study.html"
    write_study_report(study, path)
    text = path.read_text(encoding="ascii")
    assert text.startswith("<!DOCTYPE html>") and text.rstrip().endswith("</html>")
    assert text.count("data:image/png;base64,") >= 4
    assert not re.search(r'(src|href)\s*=\s*"(?!data:)', text)  # no external resources
    for sampler in SAMPLERS:
        assert f"<td>{sampler}</td>" in text
    assert not list(tmp_path.glob("*.tmp*"))


def test_cli_runs_and_prints_the_table(study, capsys, tmp_path):
    report = tmp_path / "r.html"
    args = ["lattice", "compare-samplers", "--size", str(SIZE), "--kappa", str(KAPPA), "--lam", "0",
            "--max-pull", repr(MAX_PULL), "--out-dir", str(study.out_dir), "--no-progress"]
    assert main(args + ["--report", str(report)]) == 0  # every row reused from the study: fast
    out = capsys.readouterr().out
    assert all(re.search(rf"^{re.escape(s)}\s+{SIZE}\s", out, re.M) for s in SAMPLERS)
    assert str(study.out_dir) in out and report.is_file()
    assert main(args + ["--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert set(payload) == {"rows", "settings"} and len(payload["rows"]) == len(SAMPLERS)


@pytest.mark.parametrize("extra, flag", [
    (["--size", "4", "--kappa", "0.2", "--samplers", "hmc,mcmc"], "--samplers"),
    (["--size", "1", "--kappa", "0.2"], "--size"),
    (["--size", "4", "--kappa=-0.1"], "--kappa"),
    (["--size", "", "--kappa", "0.2"], "--size"),
    (["--size", "4", "--kappa", "0.2", "--samplers", ""], "--samplers"),
    (["--size", "4,x", "--kappa", "0.2"], "--size"),
])
def test_cli_bad_input_is_one_line_and_exit_2(extra, flag, capsys, tmp_path):
    out_dir = tmp_path / "never"
    assert main(["lattice", "compare-samplers", *extra, "--out-dir", str(out_dir)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and flag in err
    assert not out_dir.exists()


def test_settings_refuse_bad_values():
    with pytest.raises(InputError, match="--size"):
        CompareSettings(sizes=(), kappas=(0.2,))
    with pytest.raises(InputError, match="--kappa"):
        CompareSettings(sizes=(4,), kappas=(math.nan,))
    with pytest.raises(InputError, match="--preset"):
        CompareSettings(sizes=(4,), kappas=(0.2,), preset="huge")
    with pytest.raises(InputError, match="--lam"):
        CompareSettings(sizes=(4,), kappas=(0.3,), lam=0.0)  # free field beyond kappa = 1/4
    s = CompareSettings(sizes=(4,), kappas=(0.2,), samplers=("flow",))
    assert s.samplers == ("hmc", "flow")  # the reference is always run

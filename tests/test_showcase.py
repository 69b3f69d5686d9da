"""``python -m skbayes``: the showcase runs, prints its table and saves its figures."""

import subprocess
import sys

import pytest

from skbayes.__main__ import main

pytest.importorskip("matplotlib")
pytest.importorskip("torch")

FIGURES = {
    "breast_cancer_reliability.png",
    "diabetes_predictive.png",
    "heteroscedastic_band.png",
    "interval_calibration.png",
}


def test_quick_showcase_prints_table_and_saves_figures(tmp_path, capsys):
    assert main(["--quick", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    for model in [
        "GaussianLinearRegression(auto)",
        "sklearn BayesianRidge",
        "BayesianLogisticRegression(auto)",
        "sklearn LogisticRegression",
        "StochasticMLPRegressor",
        "sklearn MLPRegressor",
    ]:
        assert f"| {model} |" in out
    assert {p.name for p in tmp_path.glob("*.png")} == FIGURES
    assert all(p.stat().st_size > 10_000 for p in tmp_path.glob("*.png"))


def test_help_runs_as_a_module():
    res = subprocess.run(
        [sys.executable, "-m", "skbayes", "--help"], capture_output=True, text=True
    )
    assert res.returncode == 0
    assert "--quick" in res.stdout and "--out" in res.stdout

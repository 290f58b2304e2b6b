"""Progress of image runs: tqdm bars on stderr naming the stage, nothing when off, stdout untouched."""

from __future__ import annotations

import json

from click.testing import CliRunner
from pipeline_figures import micrograph

from imagedataextractor import viz
from imagedataextractor.cli import main
from imagedataextractor.pipeline import extract


def test_api_progress_on_names_the_stages_on_stderr(figure_path, capsys):
    results = extract(figure_path, method="watershed", progress=True)
    captured = capsys.readouterr()
    assert captured.out == ""
    # the images bar is named after the source; the panels bar ends at 2/2 (one micrograph, one plot)
    assert "fig1.png" in captured.err and "panels: 100%" in captured.err and "2/2" in captured.err
    for stage in ("splitting fig1", "reading scalebar of fig1_1", "segmenting fig1_1 (watershed)", "measuring fig1_1"):
        assert stage in captured.err, stage
    assert [r.status for r in results] == ["done", "skipped"]


def test_api_bayesian_stage_says_the_samples(capsys):
    from imagedataextractor.segment import BPartISConfig

    [result] = extract(micrograph()[:128, :128], split=False, scalebar=False, bpartis=BPartISConfig(n_samples=2), progress=True)
    assert result.status == "done"
    assert "segmenting array (bpartis, T=2)" in capsys.readouterr().err


def test_api_progress_default_is_off_when_stderr_is_not_a_terminal(capsys):
    extract(micrograph()[:128, :128], method="watershed", split=False, scalebar=False)
    assert capsys.readouterr().err == ""


def test_cli_progress_goes_to_stderr_and_json_stays_valid(figure_path, tmp_path):
    result = CliRunner().invoke(main, ["extract", str(figure_path), "--out", str(tmp_path / "out"), "--method", "watershed", "--json", "--progress"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["n_done"] == 1 and report["n_skipped"] == 1
    for stage in ("splitting fig1", "segmenting fig1_1 (watershed)", "storing fig1", "writing results", "drawing plots", "writing pages"):
        assert stage in result.stderr, stage


def test_cli_no_progress_writes_nothing_on_stderr(figure_path, tmp_path):
    result = CliRunner().invoke(main, ["extract", str(figure_path), "--out", str(tmp_path / "out"), "--method", "watershed", "--no-progress"])
    assert result.exit_code == 0, result.output
    assert result.stderr == "" and "1 measured, 1 skipped, 0 failed" in result.stdout


def test_report_progress(figure_path, tmp_path):
    db = tmp_path / "ide.sqlite"
    extract(figure_path, method="watershed", db=db, progress=False)
    on = CliRunner().invoke(main, ["report", "--db", str(db), "--out", str(tmp_path / "site"), "--workers", "1", "--progress"])
    assert on.exit_code == 0, on.output
    assert "report" in on.stderr and "drawing plots" in on.stderr and "writing pages" in on.stderr
    off = CliRunner().invoke(main, ["report", "--db", str(db), "--out", str(tmp_path / "site2"), "--workers", "1"])
    assert off.exit_code == 0 and off.stderr == ""


def test_rdf_plot_of_a_panel_is_told_its_particle_count(figure_path, tmp_path, monkeypatch):
    """The per-panel rdf.png gets the panel's particle count, so "too few particles" can say how many."""
    calls = []
    draw = viz.save_rdf
    monkeypatch.setattr(viz, "save_rdf", lambda path, rdf, n_particles=None: calls.append(n_particles) or draw(path, rdf, n_particles))
    [measured, _] = extract(figure_path, method="watershed")
    measured.save(tmp_path)
    assert calls == [len(measured.particles)] and calls[0] > 0

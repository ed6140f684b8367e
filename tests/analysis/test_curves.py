"""curves.analyze: the MicroSegFormer post-mortem's numbers, short runs, NaN, no LR,
minimised metrics, divergence; the report files (markdown in both languages, the figure)
and `ocec-analyze curves`."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pytest
from curve_histories import cosine_lr, make_history, microsegformer_run

from ocec_lightning import run_dir
from ocec_lightning.analysis.curves import cli as curves_cli
from ocec_lightning.analysis.curves import report as curves_report
from ocec_lightning.analysis.curves.analysis import analyze, train_counterpart
from ocec_lightning.analysis.curves.diagnoses import diagnose
from ocec_lightning.analysis.curves.report import analyze_and_write, render_markdown
from ocec_lightning.config import compose_config
from ocec_lightning.errors import OCECError


def test_microsegformer_post_mortem_numbers() -> None:
    a = analyze(microsegformer_run())
    assert (a.best_epoch, a.best_value, a.final_value) == (92, 0.6889, 0.6544)
    assert a.decline_pct == pytest.approx(5.0, abs=0.05)  # post-mortem: 0.6889 -> 0.6544 (-5.0%)
    assert a.gap_label == "train/fscore − val/fscore" and a.gap_kind == "metric"
    spans = [(p.name, p.first, p.last) for p in a.phases]
    assert spans == [
        ("early", 1, 22),
        ("mid", 23, 61),
        ("late", 62, 92),
        ("overfitting", 93, 112),
    ]
    late, over = a.phases[2], a.phases[3]
    assert late.gap_pct == pytest.approx(4.0, abs=0.3)  # seed: +3.96%
    assert over.gap_pct == pytest.approx(9.3, abs=0.3)  # seed: +9.29%
    assert late.metric_mean == pytest.approx(0.652, abs=0.005)  # seed: 0.6519 ± 0.0189
    assert late.metric_std == pytest.approx(0.019, abs=0.002)
    assert a.overfit is not None and a.overfit.detected and a.overfit.onset_epoch == 93
    assert a.overfit.epochs_after_best == 20 and a.overfit.val_loss_rise_pct > 3
    f = a.fluctuation
    assert f is not None and (f.first, f.last, f.max_epoch) == (62, 112, 92)
    assert f.std == pytest.approx(0.019, abs=0.001)  # seed: Std 0.0190
    assert f.range_pct == pytest.approx(13.5, abs=1.5)  # seed: 12.08%
    assert a.lr is not None and a.lr.peak == pytest.approx(8e-4)
    assert a.lr.at_best_pct == pytest.approx(80.0, abs=0.1)  # seed: 0.000640 (80.0%)
    assert a.lr.final_pct == pytest.approx(70.9, abs=0.1)  # seed: 0.000567 (70.9%)
    assert a.lr.implied_cosine_epochs == pytest.approx(295, abs=1)
    assert a.schedule is not None and a.schedule.planned_epochs == 300
    assert a.last_n_mean is not None and 0 < a.last_n_gap_pct < 10
    assert a.divergence is None and not a.too_short


@pytest.mark.parametrize("n", [1, 2, 3])
def test_short_runs_have_no_phases(n: int) -> None:
    values = np.array([0.3, 0.5, 0.45])[:n]
    a = analyze(make_history({"val/f1": values}, monitor="val/f1"))
    assert a.too_short and a.phases == [] and a.fluctuation is None
    assert a.best_epoch == int(np.argmax(values)) + 1 and a.lr is None


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_nan_entries_are_skipped(tmp_path: Path, lang: str) -> None:
    h = microsegformer_run()
    for key in ("val/fscore", "val/loss", "lr-AdamW"):
        h.series[key][[9, 39, 99]] = np.nan
    a = analyze(h)
    assert a.best_epoch == 92 and a.gaps["val/fscore"] == [10, 40, 100]
    assert a.divergence is None and [p.name for p in a.phases][-1] == "overfitting"
    assert a.lr is not None and a.lr.at_best_pct == pytest.approx(80.0, abs=0.1)
    text = render_markdown(a, diagnose(a, lang), lang)
    assert "`val/loss`" in text and "10, 40, 100" in text


def test_minimised_metric() -> None:
    epochs = np.arange(1, 41)
    train = 1.0 + np.exp(-epochs / 8)
    val = train + 0.05 + np.where(epochs > 25, 0.02 * (epochs - 25), 0.0)
    series = {"train/loss": train, "val/loss": val}
    h = make_history(series, monitor="val/loss", mode="min", train_loss="train/loss")
    h.roles["val_loss"] = "val/loss"
    a = analyze(h)
    assert a.best_epoch == int(np.argmin(val)) + 1 and a.best_value == pytest.approx(val.min())
    assert a.decline is not None and a.decline > 0  # final loss above the best
    assert a.gap_label == "val/loss − train/loss" and a.gap_kind == "metric"
    assert a.overfit is not None and a.overfit.detected and a.phases[-1].name == "overfitting"


@pytest.mark.parametrize(("tail", "kind"), [(np.nan, "nan"), (np.inf, "inf"), (None, "explosion")])
def test_divergence(tmp_path: Path, tail: float | None, kind: str) -> None:
    loss = np.linspace(2.0, 1.0, 12)
    if tail is None:
        loss = np.concatenate([loss, [2.5, 8.0, 40.0]])
    else:
        loss = np.concatenate([loss, [tail]])
    score = np.linspace(0.2, 0.6, len(loss))
    score[-1] = np.nan if tail is not None else score[-1]
    h = make_history(
        {"train/loss": loss, "val/f1": score}, monitor="val/f1", train_loss="train/loss"
    )
    a = analyze(h)
    assert a.divergence is not None and a.divergence.kind == kind
    assert a.divergence.series == "train/loss" and a.divergence.min_value == pytest.approx(1.0)
    for lang in ("en", "zh"):  # the report draws inf / NaN without failing
        found, written = analyze_and_write(h, tmp_path / lang, lang=lang, plot=lang == "en")
        assert found[0].id == "divergence" and written.markdown.is_file()


def test_train_counterpart_and_zero_based_epochs() -> None:
    series = {"val_acc": np.ones(3), "train_acc": np.ones(3), "val/f1": np.ones(3)}
    h = make_history(series, monitor="val_acc", epochs=np.arange(3))
    assert train_counterpart(h, "val_acc") == "train_acc"
    assert train_counterpart(h, "val/f1") is None and train_counterpart(h, "f1") is None
    assert "its first epoch is 0" in render_markdown(analyze(h), [], "en")


SECTIONS = {
    "en": ["# Training-curve analysis", "## Key numbers", "## Phases", "## Late-phase"],
    "zh": ["# 训练曲线分析", "## 关键数字", "## 阶段划分", "## 后期波动"],
}
SECTIONS["en"] += ["## Diagnoses", "## Data and method", "## Curves"]
SECTIONS["zh"] += ["## 诊断", "## 数据与方法", "## 曲线"]


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_report_files_complete(tmp_path: Path, lang: str) -> None:
    found, written = analyze_and_write(microsegformer_run(), tmp_path, lang=lang)
    text = written.markdown.read_text(encoding="utf-8")
    positions = [text.index(heading) for heading in SECTIONS[lang]]
    assert positions == sorted(positions)
    for item in found:
        assert item.title in text and item.explanation in text
        assert "{" not in item.title + item.explanation.replace("{_target_", "")
        assert all(override in text for override in item.overrides)
    assert "| 92 |" not in text and "0.6889" in text and "80.0%" in text
    if lang == "zh":
        assert "Overfitting after" not in text and "第 92 轮之后出现过拟合" in text
        assert "**运行**：" in text
    png = written.figure
    assert png is not None and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert png.stat().st_size > 20_000


def test_zh_without_cjk_font_falls_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(curves_report, "cjk_font", lambda: None)
    _, written = analyze_and_write(microsegformer_run(), tmp_path, lang="zh")
    assert written.figure_lang == "en"
    text = written.markdown.read_text(encoding="utf-8")
    assert "![analysis](analysis.png)[^font]" in text and "没有找到中文字体" in text


@pytest.mark.parametrize("n", [1, 2, 3])
def test_short_run_report(tmp_path: Path, n: int) -> None:
    h = make_history({"val/f1": np.linspace(0.4, 0.6, n)}, monitor="val/f1")
    found, written = analyze_and_write(h, tmp_path, lang="zh")
    assert found[0].id == "too_short"
    assert "至少需要 5 轮" in written.markdown.read_text(encoding="utf-8")


def test_cli_on_a_csv_log(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    epochs = np.arange(30)
    lines = ["epoch,train/loss,val/loss,val/f1,lr"]
    for e in epochs:
        lr = cosine_lr(np.array([e + 1]), 1e-3, 0, 30)[0]
        losses = f"{1 + np.exp(-e / 5):.4f},{1.1 + np.exp(-e / 5):.4f}"
        lines.append(f"{e},{losses},{0.9 - np.exp(-e / 6):.4f},{lr:.6g}")
    log = tmp_path / "log.csv"
    log.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "report"
    assert _cli(str(log), "--lang", "en", "--last", "5", "--out", str(out)) == 0
    printed = capsys.readouterr().out
    assert "report:" in printed and (out / "analysis.md").is_file()
    assert (out / "analysis.png").is_file()
    with pytest.raises(OCECError, match="--last"):
        _cli(str(log), "--last", "0")
    with pytest.raises(OCECError, match="missing"):
        _cli(str(tmp_path / "missing"))


def _cli(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    curves_cli.add_arguments(parser)  # what `ocec-analyze curves` dispatches to
    return curves_cli.run(parser.parse_args(argv))


def test_diagnose_is_stable_for_every_language() -> None:
    a = analyze(microsegformer_run())
    assert [d.id for d in diagnose(a, "en")] == [d.id for d in diagnose(a, "zh")]


def test_cli_on_a_microsegformer_run_dir(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Our run-dir layout (csv/metrics.csv, config.yaml, .hydra/overrides.yaml) end to end."""
    run = tmp_path / "run"
    run_dir.write_config(run, compose_config(["experiment=microsegformer_300ep"], output_dir=run))
    (run / ".hydra").mkdir()
    (run / ".hydra" / "overrides.yaml").write_text("- experiment=microsegformer_300ep\n")
    h = microsegformer_run()
    rows = ["epoch,step," + ",".join(h.series)]
    for i in range(len(h)):
        rows.append(f"{i},{32 * i + 31}," + ",".join(f"{v[i]:.6g}" for v in h.series.values()))
    (run / "csv").mkdir()
    (run / "csv" / "metrics.csv").write_text("\n".join(rows) + "\n")
    assert _cli(str(run)) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("1. [warning] LR schedule planned for 300 epochs")
    assert "Overfitting after epoch 91" in printed  # Lightning counts epochs from 0
    assert "scheduler=cosine_warm_restarts scheduler.T_0=30" in printed
    assert (run / "analysis.md").is_file() and (run / "analysis.png").is_file()

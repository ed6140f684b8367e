"""`ocec-data`: synth eyes -> info round trips, other formats, and one-line errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from ocec_lightning.cli.data import main


def _rows(out: str) -> dict[str, list[str]]:
    """Cells of the rich tables' rows keyed by their first cell (split or dimension)."""
    rows = {}
    for line in out.splitlines():
        cells = [c.strip() for c in line.replace("┃", "│").split("│")[1:-1]]
        if cells:
            rows[cells[0]] = cells[1:]
    return rows


@pytest.mark.parametrize("extra", [[], ["--no-bytes"]], ids=["bytes", "png-files"])
def test_synth_eyes_then_info_round_trip(tmp_path, capsys, extra):
    out = tmp_path / "eyes.parquet"
    assert main(["synth", "eyes", "--out", str(out), "--n", "120", "--seed", "1", *extra]) == 0
    written = pd.read_parquet(out)
    assert len(written) == 120 and ("image_bytes" in written) == (not extra)
    assert (tmp_path / "images").is_dir() == bool(extra)
    synth_rows = _rows(capsys.readouterr().out)

    assert main(["info", str(out), "--group-column", "source"]) == 0
    text = capsys.readouterr().out
    info_rows = _rows(text)
    counts = written.groupby(["split", "label"]).size()
    for split in ("train", "val", "test"):
        expected = [str(counts.get((split, "closed"), 0)), str(counts.get((split, "open"), 0))]
        assert info_rows[split][:2] == expected == synth_rows[split][:2]
    assert info_rows["all"][:3] == [
        str((written.class_id == 0).sum()),
        str((written.class_id == 1).sum()),
        "120",
    ]
    assert info_rows["height"] == ["32", "32", "32"] and info_rows["width"] == ["64", "64", "64"]
    assert f"groups: {written['source'].nunique()}" in text
    share_open = 100 * (written.class_id == 1).mean()
    assert f"open {share_open:.1f}%" in text


def test_sharded_output_and_custom_size(tmp_path, capsys):
    out = tmp_path / "shards"
    assert (
        main(
            ["synth", "eyes", "--out", str(out), "--n", "60", "--shards", "3", "--size", "24", "40"]
        )
        == 0
    )
    assert sorted(p.name for p in out.glob("*.parquet")) == [
        f"part-0000{i}.parquet" for i in range(3)
    ]
    capsys.readouterr()
    assert main(["info", str(out)]) == 0
    rows = _rows(capsys.readouterr().out)
    assert rows["all"][2] == "60"
    assert rows["height"] == ["24", "24", "24"] and rows["width"] == ["40", "40", "40"]


def test_info_reads_csv_and_folders(tmp_path, capsys):
    assert (
        main(["synth", "eyes", "--out", str(tmp_path / "eyes.parquet"), "--n", "30", "--no-bytes"])
        == 0
    )
    frame = pd.read_parquet(tmp_path / "eyes.parquet")
    frame.rename(columns={"image_path": "path", "source": "group"})[
        ["path", "label", "split", "group"]
    ].to_csv(tmp_path / "eyes.csv", index=False)
    capsys.readouterr()
    assert main(["info", str(tmp_path / "eyes.csv")]) == 0
    text = capsys.readouterr().out
    assert _rows(text)["all"][2] == "30" and f"groups: {frame['source'].nunique()}" in text
    # images/<split>/<label>/*.png -> a class folder per label under images/train
    assert main(["info", str(tmp_path / "images" / "train")]) == 0
    rows = _rows(capsys.readouterr().out)
    assert rows["(none)"][2] == str((frame.split == "train").sum())


def test_errors_are_one_line_with_exit_code_2(tmp_path, capsys):
    assert main(["info", str(tmp_path / "missing.parquet")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: path does not exist") and err.count("\n") == 1
    bad = tmp_path / "bad.parquet"
    pd.DataFrame({"label": ["open"], "source": ["x"]}).to_parquet(bad)
    assert main(["info", str(bad)]) == 2
    assert "missing required column 'image_path'" in capsys.readouterr().err
    assert (
        main(["synth", "eyes", "--out", str(tmp_path / "x.parquet"), "--n", "10", "--shards", "2"])
        == 2
    )
    assert capsys.readouterr().err.startswith("error: config key 'shards'")
    assert main(["synth", "eyes", "--n", "10"]) == 2  # argparse usage error
    assert main(["--help"]) == 0


def test_module_entry_point_runs():
    result = subprocess.run(
        [sys.executable, "-m", "ocec_lightning.cli.data", "synth", "--help"],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
        check=False,
    )
    assert result.returncode == 0 and "eyes" in result.stdout


def _decode_masks(frame: pd.DataFrame):
    import cv2
    import numpy as np

    return np.stack(
        [cv2.imdecode(np.frombuffer(b, np.uint8), cv2.IMREAD_UNCHANGED) for b in frame.mask_bytes]
    )


def test_synth_faces_then_info_round_trip(tmp_path, capsys):
    import numpy as np

    out = tmp_path / "faces"
    args = ["synth", "faces", "--out", str(out), "--n", "40", "--seed", "3", "--size", "32", "48"]
    assert main(args) == 0
    written = pd.read_parquet(out / "faces.parquet")
    assert len(written) == 40 and {"mask_bytes", "mask_path"} <= set(written.columns)
    synth_text = capsys.readouterr().out
    synth_rows = _rows(synth_text)
    masks = _decode_masks(written)
    shares = 100 * np.bincount(masks.ravel(), minlength=11) / masks.size
    for path in (out, out / "faces.parquet"):  # the directory holds the parquet
        assert main(["info", str(path)]) == 0
        text = capsys.readouterr().out
        assert "samples with segmentation masks" in " ".join(text.split())
        info_rows = _rows(text)
        for split in ("train", "val", "test"):
            expected = str((written.split == split).sum())
            assert info_rows[split][0] == expected == synth_rows[split][0]
        assert info_rows["all"][0] == "40"
        assert info_rows["height"] == ["32", "32", "32"] and info_rows["width"] == ["48"] * 3
        # class pixel frequencies: the rows keyed by id "0".."10", share in the 3rd cell
        for cls in range(11):
            assert info_rows[str(cls)][1] == f"{shares[cls]:.2f}" == synth_rows[str(cls)][1]
    assert info_rows["0"][0] == "background" and info_rows["10"][0] == "hair"
    # The same files as a folder source (images/ + masks/ paired by stem).
    (out / "faces.parquet").rename(tmp_path / "moved.parquet")
    assert main(["info", str(out)]) == 0
    rows = _rows(capsys.readouterr().out)
    assert rows["(none)"][0] == "40" and rows["4"][1] == f"{shares[4]:.2f}"


def test_synth_faces_errors_are_one_line(tmp_path, capsys):
    assert main(["synth", "faces", "--out", str(tmp_path / "f"), "--n", "0"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: config key 'n'") and err.count("\n") == 1
    bad = tmp_path / "bad"
    (bad / "images").mkdir(parents=True)
    (bad / "masks").mkdir()
    (bad / "images" / "a.png").write_bytes(b"x")
    assert main(["info", str(bad)]) == 2
    assert "1 image(s) without a mask: a" in capsys.readouterr().err

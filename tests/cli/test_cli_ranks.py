"""Under torchrun only rank 0 writes: the training commands with is_main() False write no report or figure."""

import pytest

from aekit.cli import codec, conv, main, stacked

REPORT_FILES = (
    "metrics.json",
    "curves.png",
    "reconstructions.png",
    "denoising.png",
    "filters.png",
    "pretrained",
    "encoder.onnx",
    "codec.json",
)


@pytest.mark.parametrize(
    "module, argv",
    [
        (conv, ["train", "--model", "cae", "--channels", "2", "--epochs", "1"]),
        (stacked, ["train", "--model", "sda", "--hidden", "8", "--pretrain-epochs", "1", "--epochs", "1"]),
        (codec, ["codec", "train", "--hidden", "8,2", "--epochs", "1"]),
    ],
)
def test_a_rank_other_than_zero_writes_no_report(tmp_path, monkeypatch, module, argv):
    monkeypatch.setattr(module, "is_main", lambda: False, raising=False)
    out = tmp_path / "run"
    assert main(["-q", *argv, "--data", "digits", "--val-fraction", "0", "--out", str(out)]) == 0
    written = sorted(p.name for p in out.iterdir()) if out.exists() else []
    assert not set(written) & set(REPORT_FILES), written
    if module is codec:  # train_codec keeps no checkpoints: rank 1 writes nothing at all
        assert written == []

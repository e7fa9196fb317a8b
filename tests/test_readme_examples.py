"""The README's Python examples (quick start, stacked autoencoders, scikit-learn) run, with fewer epochs."""

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def _blocks(heading: str) -> list[str]:
    section = README.read_text(encoding="utf-8").split(f"## {heading}", 1)[1].split("\n## ", 1)[0]
    return [
        re.sub(r"epochs=\d+", "epochs=2", b) for b in re.findall(r"```python\n(.*?)```", section, flags=re.S)
    ]


@pytest.mark.parametrize(
    "heading, n_blocks",
    [
        ("Quick start (Python)", 1),
        ("Training settings and callbacks", 1),
        ("Checkpoints", 1),
        ("Stacked denoising autoencoders", 2),
    ],
)
def test_readme_examples_run(heading, n_blocks, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    blocks = _blocks(heading)
    assert len(blocks) == n_blocks
    namespace: dict = {}
    for code in blocks:
        exec(compile(code, str(README), "exec"), namespace)
    if heading.startswith("Quick"):
        assert namespace["codes"].shape == (1797, 16)
        assert (tmp_path / "runs" / "dae" / "model.safetensors").is_file()
    elif heading.startswith("Checkpoints"):  # self-contained: it runs as copied into a fresh session
        assert namespace["model"].history["epoch"] == [1, 2]
        assert (tmp_path / "runs" / "ae" / "training_state.json").is_file()
    elif heading.startswith("Training"):
        assert namespace["history"]["epoch"] == [1, 2]
        assert (tmp_path / "runs" / "history.csv").read_text().startswith("epoch,train_loss,seconds,val_loss")
    else:
        assert 0.0 <= namespace["pipe"].score(namespace["X_test"], namespace["y_test"]) <= 1.0
        assert namespace["recon"].shape == namespace["X"].shape


def test_the_sda_example_stops_early_on_a_validation_split_not_the_test_set(tmp_path, monkeypatch):
    """Early stopping picks the epoch: on the test set, the test error it then reports is biased."""
    monkeypatch.chdir(tmp_path)
    code = _blocks("Stacked denoising autoencoders")[0]
    calls = re.findall(r"fit_classifier\((.*)\)", code)
    assert calls and all("test" not in call and "X_val=" in call for call in calls), calls
    namespace: dict = {}
    exec(compile(code, str(README), "exec"), namespace)
    X_val, X_test = namespace["X_val"], namespace["X_test"]
    assert len(X_val) > 0 and not (X_val[:, None, :] == X_test[None, :, :]).all(axis=2).any()

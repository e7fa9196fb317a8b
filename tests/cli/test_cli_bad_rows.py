"""A non-finite value is reported at its row of the user's file, not of the shuffled training subset
(issue 18, item 5)."""

import numpy as np
import pytest

from aekit.cli import main


@pytest.mark.parametrize("value", [np.nan, np.inf, 1e39])
@pytest.mark.parametrize("command", [["train"], ["train", "--model", "cae"], ["codec", "train"]])
def test_train_names_the_row_of_the_file(tmp_path, capsys, value, command):
    X = np.random.default_rng(0).random((50, 64))
    X[3, 7] = value
    np.save(tmp_path / "x.npy", X if value == 1e39 else X.astype(np.float32))
    data = ["--data", str(tmp_path / "x.npy")]
    assert main(["-q", *command, *data, "--epochs", "1", "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert "row 3, column 7" in err and "Traceback" not in err, err
    assert not (tmp_path / "run").exists()  # refused before the output directory is touched

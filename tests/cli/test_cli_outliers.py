"""`aekit outliers` through main(argv): scores, labels, histogram, and one-line errors."""

import subprocess
import sys

import numpy as np
import pytest
from scipy.io import savemat

from aekit.cli import main


def planted(n=300, d=6, n_out=10, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    X[:n_out] += 6.0
    y = np.zeros(n, dtype=int)
    y[:n_out] = 1
    return X, y


def test_outliers_writes_scores_labels_and_histogram(tmp_path, capsys):
    X, y = planted()
    savemat(tmp_path / "t.mat", {"X": X, "y": y[:, None]})
    out = tmp_path / "scores.csv"
    assert (
        main(
            [
                "-q",
                "outliers",
                "--data",
                str(tmp_path / "t.mat"),
                "--contamination",
                "0.05",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    rows = np.loadtxt(out, delimiter=",", skiprows=1)
    assert out.read_text().splitlines()[0] == "row,score,label"
    assert rows.shape == (300, 3) and list(rows[:, 0]) == list(range(300))
    assert rows[:, 2].sum() == 15  # the top 5 %
    assert set(np.argsort(-rows[:, 1])[:10]) == set(range(10))  # the planted rows score highest
    assert (tmp_path / "scores.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    said = capsys.readouterr().out
    assert "15 flagged" in said and "ROC-AUC against the file's y: 1.000" in said


def error_of(capsys, argv):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("aekit: error: ") and "\n" not in err and "Traceback" not in err
    return err


@pytest.mark.parametrize(
    "content, message",
    [
        ("a,b,kind\n1,2,x\n3,4,y\n", "column 'kind' of .* is not numeric"),
        ("a,b\n" + "1,2\n" * 5 + "nan,3\n" + "2,5\n" * 10, "NaN or infinite values .*row 6, column 1"),
        ("a,b\n" + "".join(f"{i},7\n" for i in range(20)), r"1 constant column\(s\) \(2\)"),
        ("a,b\n1,2\n3,4\n", "has 2 rows; at least 10 are needed"),
    ],
)
def test_outliers_bad_tables_are_one_line_errors(tmp_path, capsys, content, message):
    import re

    (tmp_path / "t.csv").write_text(content)
    err = error_of(capsys, ["outliers", "--data", str(tmp_path / "t.csv"), "--out", str(tmp_path / "s.csv")])
    assert re.search(message, err), err
    assert not (tmp_path / "s.csv").exists()


def test_outliers_bad_arguments(tmp_path, capsys):
    X, _ = planted()
    np.save(tmp_path / "t.npy", X)
    err = error_of(
        capsys, ["outliers", "--data", str(tmp_path / "t.npy"), "--contamination", "0.7", "--out", "s.csv"]
    )
    assert "expected a share in (0, 0.5]" in err
    err = error_of(capsys, ["outliers", "--data", str(tmp_path / "t.npy"), "--out", "s.txt"])
    assert "ending in .csv" in err
    err = error_of(
        capsys, ["outliers", "--data", str(tmp_path / "missing.csv"), "--out", str(tmp_path / "s.csv")]
    )
    assert "data file not found" in err


def test_outliers_module_imports_no_torch():
    code = "import sys, aekit.cli.outliers; print('torch' in sys.modules, 'sklearn' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]

"""``aekit outliers``: anomaly scores of a table's rows from an autoencoder ensemble.

Only argparse is imported here; the handler imports numpy, torch and scikit-learn when it runs,
so ``aekit --help`` stays light.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

MIN_ROWS = 10  # fewer rows cannot train the ensemble and set a threshold


def _contamination(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 < value <= 0.5:
        raise argparse.ArgumentTypeError(f"expected a share in (0, 0.5], got {text!r}")
    return value


def _csv_file(text: str) -> str:
    if not text.lower().endswith(".csv"):
        raise argparse.ArgumentTypeError(f"expected a file name ending in .csv, got {text!r}")
    return text


def register(sub) -> None:
    """Add ``aekit outliers`` to the sub-command parsers ``sub``."""
    p = sub.add_parser(
        "outliers",
        help="score the rows of a table as outliers (autoencoder ensemble)",
        description="Fit an AutoencoderOutlierDetector (defaults) on the rows of a numeric table "
        "and write each row's anomaly score and label (1 = outlier, the top --contamination "
        "share), with a histogram of the scores beside the CSV (.png). A .mat file's y, when "
        "present, is used only to report the ROC-AUC.",
    )
    p.add_argument("--data", required=True, metavar="FILE", help="table: .csv, .npy, .npz or .mat (X, y)")
    p.add_argument("--contamination", type=_contamination, default=0.1, help="expected share of outliers")
    p.add_argument("--seed", type=int, default=0, help="random_state of the detector")
    p.add_argument(
        "--out", required=True, type=_csv_file, metavar="FILE.csv", help="scores and labels per row"
    )
    p.set_defaults(func=cmd_outliers)


def cmd_outliers(args: argparse.Namespace) -> int:
    """Fit the detector on ``--data``, write ``--out`` and the histogram; return 0."""
    import numpy as np

    from ..data.tables import check_table, load_table
    from ..errors import DataError
    from ..io import atomic_write_text
    from ..sklearn import AutoencoderOutlierDetector
    from .common import say

    X, y = load_table(args.data)
    try:
        X = check_table(X, min_rows=MIN_ROWS, what=f"--data {args.data}")
    except DataError as err:
        raise DataError(f"{err}") from None
    det = AutoencoderOutlierDetector(contamination=args.contamination, random_state=args.seed).fit(X)
    scores, labels = det.decision_scores_, det.labels_
    out = Path(args.out)
    lines = ["row,score,label"] + [
        f"{i},{s:.9g},{int(lab)}" for i, (s, lab) in enumerate(zip(scores, labels))
    ]
    atomic_write_text(out, "\n".join(lines) + "\n")
    figure = out.with_suffix(".png")
    _histogram(scores, det.threshold_, figure)
    summary = (
        f"{len(X)} rows, {X.shape[1]} columns: {int(labels.sum())} flagged as outliers "
        f"(score > {det.threshold_:.4g}); scores in {out}, histogram in {figure}"
    )
    if y is not None and len(np.unique(y)) == 2:
        from sklearn.metrics import roc_auc_score

        summary += f"; ROC-AUC against the file's y: {roc_auc_score(np.ravel(y), scores):.3f}"
    say(summary)
    return 0


def _histogram(scores: np.ndarray, threshold: float, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..io import atomic_path

    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.hist(scores, bins=min(100, max(10, len(scores) // 10)), color="C0")
    ax.axvline(threshold, color="C3", ls="--", label=f"threshold {threshold:.3g}")
    ax.set_xlabel("anomaly score (higher = more anomalous)")
    ax.set_ylabel("rows")
    ax.set_yscale("log")
    ax.legend()
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)

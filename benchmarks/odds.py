"""Outlier detection on the 17 ODDS data sets, PyOD's benchmark protocol (Zhao et al., JMLR 2019).

Per data set: ``--splits`` random 60/40 train/test splits (split ``i`` drawn with
``random_state=i``), features standardised with the training part's mean and standard
deviation, every detector fitted on the unlabelled training part and scored on the test part
(ROC-AUC and average precision), fit + score wall time. All detectors run with their default
parameters on the same splits, one thread each (``OMP_NUM_THREADS=1``, ``torch.set_num_threads(1)``).

PyOD is not an aekit dependency: run this with the benchmark's own virtualenv::

    python -m venv .bench-venv --system-site-packages && .bench-venv/bin/pip install pyod
    OMP_NUM_THREADS=1 PYTHONPATH=src .bench-venv/bin/python benchmarks/odds.py --splits 10

Writes ``results/odds.json`` (per split and summary), ``results/odds.md`` (tables, PyOD's
published figures beside ours) and ``results/odds.png`` (aekit against the best peer).
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
os.environ.setdefault("NUMBA_NUM_THREADS", "1")

import argparse
import csv
import json
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.model_selection import train_test_split

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, write_result

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "odds"
SETS = [
    "arrhythmia",
    "cardio",
    "glass",
    "ionosphere",
    "letter",
    "lympho",
    "mnist",
    "musk",
    "optdigits",
    "pendigits",
    "pima",
    "satellite",
    "satimage-2",
    "shuttle",
    "vertebral",
    "vowels",
    "wbc",
]
DETECTORS = (
    "aekit",
    "pyod_AutoEncoder",
    "pyod_VAE",
    "pyod_IForest",
    "pyod_KNN",
    "pyod_PCA",
    "pyod_ECOD",
    "sk_IForest",
)
# PyOD's published ROC-AUC: classic detectors (docs/tables/roc.csv, 10 splits) and deep ones
# (examples/auto_model_selection_example/roc_df.csv, single run)
PUBLISHED = {
    "pyod_docs_tables_roc.csv": ("IForest", "KNN", "PCA", "MCD"),
    "pyod_automodelsel_roc_df.csv": ("AutoEncoder", "VAE"),
}


def set_threads() -> None:
    """One thread for every detector (torch, BLAS through OMP_NUM_THREADS set before numpy)."""
    torch.set_num_threads(1)


def load(name: str, data: Path) -> tuple[np.ndarray, np.ndarray]:
    from aekit.data.tables import load_table

    X, y = load_table(data / f"{name}.mat")
    return X.astype(np.float64), y.astype(int).ravel()


def make_detector(name: str, seed: int) -> tuple[object, Callable]:
    """(estimator, fn(estimator, X) -> outlier scores, higher = more anomalous)."""
    if name == "aekit":
        from aekit.sklearn import AutoencoderOutlierDetector

        return AutoencoderOutlierDetector(random_state=seed), lambda d, X: -d.score_samples(X)
    if name == "sk_IForest":
        from sklearn.ensemble import IsolationForest

        return IsolationForest(random_state=seed), lambda d, X: -d.score_samples(X)
    short = name.removeprefix("pyod_")
    if short == "AutoEncoder":
        from pyod.models.auto_encoder import AutoEncoder

        det = AutoEncoder(random_state=seed, verbose=0)
    elif short == "VAE":
        from pyod.models.vae import VAE

        det = VAE(random_state=seed, verbose=0)
    elif short == "IForest":
        from pyod.models.iforest import IForest

        det = IForest(random_state=seed)
    elif short == "KNN":
        from pyod.models.knn import KNN

        det = KNN()
    elif short == "PCA":
        from pyod.models.pca import PCA

        det = PCA(random_state=seed)
    elif short == "ECOD":
        from pyod.models.ecod import ECOD

        det = ECOD()
    else:
        raise SystemExit(f"odds.py: unknown detector {name!r}; known: {', '.join(DETECTORS)}")
    return det, lambda d, X: d.decision_function(X)


def warm_up(detectors: list[str]) -> None:
    """Fit every detector once on a small random table, so imports and first-call costs are not timed."""
    X = np.random.default_rng(0).normal(size=(200, 5))
    for name in detectors:
        det, score = make_detector(name, 0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            det.fit(X)
            score(det, X)


def run_split(X: np.ndarray, y: np.ndarray, split: int, detectors: list[str]) -> dict:
    X_tr, X_te, _, y_te = train_test_split(X, y, test_size=0.4, random_state=split)
    mean, std = X_tr.mean(axis=0), X_tr.std(axis=0)
    std = np.where(std > 0, std, 1.0)
    X_tr, X_te = (X_tr - mean) / std, (X_te - mean) / std
    out = {}
    for name in detectors:
        set_threads()
        det, score = make_detector(name, split)
        start = time.perf_counter()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                det.fit(X_tr)
                s = np.asarray(score(det, X_te), dtype=np.float64).ravel()
        except Exception as exc:  # a peer's failure is a result, not the end of the run
            out[name] = {"error": f"{type(exc).__name__}: {exc}"}
            print(f"    {name}: FAILED {exc}", flush=True)
            continue
        seconds = time.perf_counter() - start
        if not np.all(np.isfinite(s)):
            s = np.nan_to_num(s, nan=0.0, posinf=np.finfo(np.float64).max)
        out[name] = {
            "auroc": float(roc_auc_score(y_te, s)),
            "ap": float(average_precision_score(y_te, s)),
            "seconds": seconds,
        }
    return out


def summarise(per_split: list[dict], detectors: list[str]) -> dict:
    summary = {}
    for name in detectors:
        ok = [r[name] for r in per_split if name in r and "error" not in r[name]]
        if not ok:
            continue
        entry = {"splits": len(ok)}
        for key in ("auroc", "ap", "seconds"):
            values = np.array([r[key] for r in ok])
            entry[key] = float(values.mean())
            entry[key + "_std"] = float(values.std())
        summary[name] = entry
    return summary


def published(data: Path) -> dict:
    """PyOD's published ROC-AUC per data set and detector, from the csv tables beside the data."""
    table: dict[str, dict[str, float]] = {}
    for filename, columns in PUBLISHED.items():
        path = data / filename
        if not path.is_file():
            continue
        with open(path, newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                for col in columns:
                    if row.get(col):
                        table.setdefault(row["Data"], {})[col] = float(row[col])
    return table


def ranks(results: dict, detectors: list[str]) -> dict[str, float]:
    """Mean rank of each detector by mean ROC-AUC over the data sets (1 = best, ties averaged)."""
    from scipy.stats import rankdata

    per_set = []
    for res in results.values():
        s = res["summary"]
        if all(d in s for d in detectors):
            per_set.append(rankdata([-s[d]["auroc"] for d in detectors]))
    if not per_set:
        return {}
    return dict(zip(detectors, map(float, np.mean(per_set, axis=0)), strict=True))


def markdown(results: dict, detectors: list[str], pub: dict, splits: int) -> str:
    short = {d: d.removeprefix("pyod_").replace("sk_IForest", "sk-IForest") for d in detectors}
    pub_cols = [c for cols in PUBLISHED.values() for c in cols]
    lines = [
        f"ROC-AUC on the test part, mean ± std over {splits} splits; PyOD's published figures (pub.) to the right.",
        "",
        "| data | n | d | "
        + " | ".join(short[d] for d in detectors)
        + " | "
        + " | ".join(f"pub. {c}" for c in pub_cols)
        + " |",
        "|---" * (3 + len(detectors) + len(pub_cols)) + "|",
    ]
    means = {d: [] for d in detectors}
    pub_means = {c: [] for c in pub_cols}
    for name, res in results.items():
        s = res["summary"]
        best = max((s[d]["auroc"] for d in detectors if d in s), default=None)
        cells = []
        for d in detectors:
            if d not in s:
                cells.append("—")
                continue
            means[d].append(s[d]["auroc"])
            text = f"{s[d]['auroc']:.3f} ± {s[d]['auroc_std']:.3f}"
            cells.append(f"**{text}**" if s[d]["auroc"] == best else text)
        p = pub.get(name, {})
        for c in pub_cols:
            if c in p:
                pub_means[c].append(p[c])
        pcells = [f"{p[c]:.3f}" if c in p else "—" for c in pub_cols]
        lines.append(f"| {name} | {res['n']} | {res['d']} | " + " | ".join(cells + pcells) + " |")
    lines.append(
        f"| **mean** ({len(results)} sets) | | | "
        + " | ".join(f"**{np.mean(means[d]):.3f}**" if means[d] else "—" for d in detectors)
        + " | "
        + " | ".join(f"{np.mean(pub_means[c]):.3f}" if pub_means[c] else "—" for c in pub_cols)
        + " |"
    )
    rk = ranks(results, detectors)
    if rk:
        lines.append(
            "| mean rank | | | " + " | ".join(f"{rk[d]:.2f}" for d in detectors) + " |" + " |" * len(pub_cols)
        )
    lines += [
        "",
        f"Average precision on the test part, mean ± std over {splits} splits; fit + score seconds (mean).",
        "",
        "| data | "
        + " | ".join(f"AP {short[d]}" for d in detectors)
        + " | "
        + " | ".join(f"s {short[d]}" for d in detectors)
        + " |",
        "|---" * (1 + 2 * len(detectors)) + "|",
    ]
    for name, res in results.items():
        s = res["summary"]
        ap = [f"{s[d]['ap']:.3f} ± {s[d]['ap_std']:.3f}" if d in s else "—" for d in detectors]
        sec = [f"{s[d]['seconds']:.2f}" if d in s else "—" for d in detectors]
        lines.append(f"| {name} | " + " | ".join(ap + sec) + " |")
    lines.append(
        "| **mean** | "
        + " | ".join(
            f"{np.mean([r['summary'][d]['ap'] for r in results.values() if d in r['summary']]):.3f}"
            for d in detectors
        )
        + " |" * (len(detectors) + 1)
    )
    return "\n".join(lines) + "\n"


def goals(results: dict, detectors: list[str]) -> dict:
    """The issue's goals: mean ROC-AUC, sets won against PyOD's AE and VAE, median time ratio."""
    out: dict = {}
    s = {k: r["summary"] for k, r in results.items()}
    if "aekit" not in detectors:
        return out
    out["mean_auroc"] = {d: float(np.mean([v[d]["auroc"] for v in s.values() if d in v])) for d in detectors}
    for peer in ("pyod_AutoEncoder", "pyod_VAE", "sk_IForest", "pyod_IForest"):
        if peer in detectors:
            both = [v for v in s.values() if "aekit" in v and peer in v]
            out[f"sets_above_{peer}"] = int(sum(v["aekit"]["auroc"] > v[peer]["auroc"] for v in both))
            out[f"sets_with_{peer}"] = len(both)
            out[f"median_time_ratio_{peer}_over_aekit"] = float(
                np.median([v[peer]["seconds"] / v["aekit"]["seconds"] for v in both])
            )
    return out


def figure(results: dict, detectors: list[str], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [n for n, r in results.items() if "aekit" in r["summary"]]
    peers = [d for d in detectors if d != "aekit"]
    ours = [results[n]["summary"]["aekit"]["auroc"] for n in names]
    ours_sd = [results[n]["summary"]["aekit"]["auroc_std"] for n in names]
    best, best_name, best_sd = [], [], []
    for n in names:
        s = results[n]["summary"]
        cand = [d for d in peers if d in s]
        b = max(cand, key=lambda d: s[d]["auroc"]) if cand else None
        best.append(s[b]["auroc"] if b else np.nan)
        best_sd.append(s[b]["auroc_std"] if b else 0.0)
        best_name.append(b.removeprefix("pyod_") if b else "")
    x = np.arange(len(names))
    fig, ax = plt.subplots(figsize=(max(8, 0.7 * len(names)), 4.5))
    ax.bar(x - 0.2, ours, 0.4, yerr=ours_sd, label="aekit AutoencoderOutlierDetector (defaults)", color="C0")
    ax.bar(x + 0.2, best, 0.4, yerr=best_sd, label="best peer on the set", color="C1")
    for xi, label in zip(x, best_name, strict=True):
        ax.text(xi + 0.2, 0.02, label, rotation=90, ha="center", va="bottom", fontsize=7)
    ax.set_xticks(x, names, rotation=45, ha="right")
    ax.set_ylabel("test ROC-AUC")
    ax.set_ylim(0, 1.05)
    ax.axhline(0.5, color="grey", lw=0.5, ls="--")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.28), ncol=2, fontsize=8, frameon=False)
    ax.set_title("ODDS, PyOD protocol (60/40 splits, standardised): aekit vs the best peer")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sets", default="all", help="comma-separated data sets, or 'all'")
    p.add_argument("--splits", type=int, default=10, help="random 60/40 splits per data set")
    p.add_argument("--detectors", default=",".join(DETECTORS), help="comma-separated detectors")
    p.add_argument("--out", default=str(RESULTS / "odds.json"), help="results JSON (.md and .png beside it)")
    p.add_argument("--data", default=str(DATA), help="folder of the ODDS .mat files")
    args = p.parse_args(argv)
    sets = SETS if args.sets == "all" else args.sets.split(",")
    detectors = args.detectors.split(",")
    data, out = Path(args.data), Path(args.out)
    set_threads()
    warm_up(detectors)
    tables = {name: load(name, data) for name in sets}
    per_split: dict[str, list[dict]] = {name: [] for name in sets}
    results: dict = {}
    t0 = time.perf_counter()
    # splits outermost: a run stopped early has the same number of splits for every data set
    for split in range(args.splits):
        for name, (X, y) in tables.items():
            per_split[name].append(run_split(X, y, split, detectors))
            summary = summarise(per_split[name], detectors)
            results[name] = {
                "n": int(len(X)),
                "d": int(X.shape[1]),
                "summary": summary,
                "splits": per_split[name],
            }
            row = "  ".join(
                f"{d.removeprefix('pyod_')} {v['auroc']:.3f}/{v['seconds']:.1f}s" for d, v in summary.items()
            )
            print(f"split {split} {name:11s} [{time.perf_counter() - t0:6.0f}s] {row}", flush=True)
        save(results, detectors, split + 1, data, out)
    g = goals(results, detectors)
    print(json.dumps(g, indent=1))
    return 0


def save(results: dict, detectors: list[str], splits: int, data: Path, out: Path) -> None:
    """Results so far: JSON, Markdown tables, figure (rewritten after every data set)."""
    pub = published(data)
    payload = {
        "protocol": "PyOD benchmark: 60/40 train/test split i with random_state=i, standardised on train; "
        "fit on unlabelled train, ROC-AUC and AP on test; defaults; 1 thread per detector",
        "splits": splits,
        "detectors": detectors,
        "goals": goals(results, detectors),
        "ranks": ranks(results, detectors),
        "published_pyod": {k: v for k, v in pub.items() if k in results},
        "datasets": results,
    }
    if out.resolve().parent == RESULTS.resolve():
        path = write_result(out.stem, payload)
    else:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(payload, indent=2) + "\n")
        path = out
    path.with_suffix(".md").write_text(markdown(results, detectors, pub, splits))
    if "aekit" in detectors:
        figure(results, detectors, path.with_suffix(".png"))


if __name__ == "__main__":
    sys.exit(main())

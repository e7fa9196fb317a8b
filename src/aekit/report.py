"""A run report: one self-contained HTML page (figures embedded as base64 PNG) for a run directory.

It reads whatever a run directory holds, whichever model family wrote it:
``config.json`` (checkpoint: class, constructor arguments, training history),
``metrics.json`` and any other JSON (metrics tables; rate-distortion points are
recognised and drawn), and every PNG. Figures that are missing are drawn when
the directory can tell how: training curves from the history, first-layer
filters and (given data) reconstructions from the checkpoint. Nothing in the run
directory is modified.
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from . import viz
from ._version import __version__
from .io import atomic_write_text

__all__ = ["write_report", "build_report", "rd_points"]

MAX_PNG_BYTES = 20 * 2**20  # a bigger "figure" is not embedded
MAX_JSON_BYTES = 5 * 2**20  # a bigger JSON file is listed, not parsed
MAX_ROWS = 200  # per metrics table
SKIP_JSON = {"config.json", "training_state.json"}
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

# figure files claimed by a section: a word of the lower-cased file name (split at anything not a letter or
# digit) matching the section's pattern, so "codec_rd.png" is rate-distortion but "ordered.png" is not
SECTION_FIGURES = {
    "curves": re.compile(r"curves?|loss(es)?|history"),
    "reconstructions": re.compile(r"recon\w*|denois\w*"),
    "filters": re.compile(r"filters?|weights?"),
    "map": re.compile(r"maps?|2d|scatter|embeddings?"),
    "rd": re.compile(r"rate|rd|distortion"),
    "codes": re.compile(r"codes?|hist(ogram)?s?"),
}

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;margin:2em auto;max-width:1100px;
color:#222;padding:0 1em}h1{border-bottom:2px solid #444}h2{margin-top:1.8em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;margin:.5em 0 1em}td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left;
font-size:.92em;vertical-align:top}th{background:#f2f2f2}td.num{text-align:right;font-variant-numeric:tabular-nums}
figure{margin:1em 0}figure img{max-width:100%;border:1px solid #ddd}figcaption{color:#555;font-size:.9em}
.note{color:#777;font-style:italic}nav a{margin-right:1em}code{background:#f4f4f4;padding:0 .2em}
"""


# ====================================================================== rate-distortion points
def _json_number(value):
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _record_point(rec: dict):
    rate = next(
        (
            _json_number(rec[k])
            for k in ("bytes_per_item", "bytes", "bytes_per_image", "rate_bytes", "size_bytes")
            if k in rec
        ),
        None,
    )
    dist = next((_json_number(rec[k]) for k in ("psnr", "psnr_db") if k in rec), None)
    return None if rate is None or dist is None else (float(rate), float(dist))


def rd_points(doc, _name: str = "aekit", _depth: int = 0) -> dict:
    """Rate-distortion points ``{method: [(bytes, psnr), ...]}`` found in a parsed JSON document.

    Recognises ``{method: [[bytes, psnr], ...]}``, lists of ``{"method", "bytes", "psnr"}``
    records (``bytes_per_item``/``bytes_per_image``/``psnr_db`` too), one such record on its own
    (a codec run's ``metrics.json``: its bytes per item), and any of them nested a few levels deep.
    """
    found: dict = {}
    if _depth > 4:
        return found
    if isinstance(doc, dict) and _record_point(doc) is not None:
        found[str(doc.get("method", _name))] = [_record_point(doc)]
        return found
    if isinstance(doc, list) and doc:
        if all(isinstance(r, dict) for r in doc):
            for rec in doc:
                point = _record_point(rec)
                if point is not None:
                    found.setdefault(str(rec.get("method", rec.get("name", _name))), []).append(point)
        elif all(
            isinstance(p, (list, tuple)) and len(p) == 2 and all(_json_number(v) is not None for v in p)
            for p in doc
        ):
            found[_name] = [(float(a), float(b)) for a, b in doc]
    elif isinstance(doc, dict):
        for key, value in doc.items():
            for method, pts in rd_points(
                value, str(key) if isinstance(value, list) else _name, _depth + 1
            ).items():
                found.setdefault(method, []).extend(pts)
    return found


# ====================================================================== pieces of HTML
def _esc(value) -> str:
    return html.escape(str(value), quote=True)


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, list):
        if len(value) <= 12 and all(not isinstance(v, (dict, list)) for v in value):
            return ", ".join(_fmt(v) for v in value)
        return f"[list of {len(value)}]"
    if value is None:
        return "—"
    return str(value)


def _flatten(obj, prefix: str = "") -> list[tuple[str, object]]:
    rows = []
    if isinstance(obj, dict):
        for key, value in obj.items():
            rows.extend(_flatten(value, f"{prefix}.{key}" if prefix else str(key)))
    else:
        rows.append((prefix or "value", obj))
    return rows


def _table(rows, header=("name", "value")) -> str:
    rows = list(rows)
    extra = len(rows) - MAX_ROWS
    body = "".join(
        f'<tr><td>{_esc(k)}</td><td class="{"num" if _json_number(v) is not None else ""}">'
        f"{_esc(_fmt(v))}</td></tr>"
        for k, v in rows[:MAX_ROWS]
    )
    more = f'<p class="note">… {extra} more rows not shown</p>' if extra > 0 else ""
    return f"<table><tr><th>{_esc(header[0])}</th><th>{_esc(header[1])}</th></tr>{body}</table>{more}"


def _img(png: bytes, caption: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return (
        f'<figure><img alt="{_esc(caption)}" src="data:image/png;base64,{data}">'
        f"<figcaption>{_esc(caption)}</figcaption></figure>"
    )


def _note(text: str) -> str:
    return f'<p class="note">{_esc(text)}</p>'


def _draw(fn, *args, **kwargs) -> bytes:
    """Run a viz function into a temporary PNG and return its bytes."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "figure.png"
        fn(*args, path, **kwargs)
        return path.read_bytes()


# ====================================================================== reading the run directory
def _read_pngs(run_dir: Path) -> dict[str, bytes]:
    pngs = {}
    for path in sorted(run_dir.glob("*.png")):
        if path.is_file() and path.stat().st_size <= MAX_PNG_BYTES:
            data = path.read_bytes()
            if data.startswith(PNG_MAGIC):
                pngs[path.name] = data
    return pngs


def _read_jsons(run_dir: Path) -> tuple[dict, list[str]]:
    docs: dict[str, Any] = {}
    problems: list[str] = []
    for path in sorted(run_dir.glob("*.json")):
        if path.name in SKIP_JSON or not path.is_file():
            continue
        doc = _parse_json(path, problems)
        if doc is not None:
            docs[path.name] = doc
    return docs, problems


def _parse_json(path: Path, problems: list[str]):
    """The JSON document in ``path``, or None with a line added to ``problems``."""
    if path.stat().st_size > MAX_JSON_BYTES:
        problems.append(f"{path.name}: larger than {MAX_JSON_BYTES} bytes, not read")
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, ValueError) as err:  # ValueError: bad JSON, or an integer of > 4300 digits
        problems.append(f"{path.name}: not valid JSON ({err})")
    except RecursionError:
        problems.append(f"{path.name}: nested too deeply to read")
    return None


def _claim(pngs: dict, used: set, section: str) -> list[tuple[str, bytes]]:
    out = []
    for name, data in pngs.items():
        words = re.split(r"[^a-z0-9]+", Path(name).stem.lower())
        if name not in used and any(SECTION_FIGURES[section].fullmatch(word) for word in words):
            used.add(name)
            out.append((name, data))
    return out


def _load_model(run_dir: Path):
    try:
        from .codec.measure import codec_class, load_codec

        if codec_class(run_dir):  # Codec.load or a photo codec's: the entropy tables are checked too
            return load_codec(run_dir), None
        from . import load

        return load(run_dir), None
    except Exception as err:  # any family, any failure: the report notes it and goes on
        return None, f"{type(err).__name__}: {err}"


# ====================================================================== the report
Section = tuple[str, str, str]  # (id, heading, html)


def build_report(run_dir: str | os.PathLike, *, title: str | None = None, X: ArrayLike | None = None) -> str:
    """The HTML text of the report for ``run_dir`` (see the module docstring).

    ``X`` (optional samples, flat or (n, C, H, W)) lets the report draw reconstructions when the
    run directory has no reconstruction figure of its own.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise NotADirectoryError(f"run directory {os.fspath(run_dir)!r} does not exist or is not a directory")
    pngs = _read_pngs(run_dir)
    docs, problems = _read_jsons(run_dir)
    config = None
    if (run_dir / "config.json").is_file():
        config = _parse_json(run_dir / "config.json", problems)
    model, load_error = _load_model(run_dir) if config is not None else (None, None)
    used: set = set()  # the figures a section has shown
    metrics, rd = _metrics_section(docs, problems)
    codec_figure = _codec_measures(model, X, rd) if _is_codec(model) and X is not None else None
    sections = [
        _configuration_section(config, model, load_error),
        _curves_section(pngs, used, config),
        metrics,
        _reconstructions_section(pngs, used, model, X, codec_figure),
        _filters_section(pngs, used, model),
        _figures_section(pngs, used, "map", "2-D map"),
        _figures_section(pngs, used, "codes", "Code histograms"),
        _rate_distortion_section(pngs, used, rd),
    ]
    rest = [(n, d) for n, d in pngs.items() if n not in used]
    if rest:
        sections.append(("other-figures", "Other figures", "".join(_img(d, n) for n, d in rest)))
    return _page(run_dir, title or f"aekit run report: {run_dir.resolve().name}", [s for s in sections if s])


def _configuration_section(config: object, model: Any, load_error: str | None) -> Section:
    if not isinstance(config, dict):
        return (
            "configuration",
            "Configuration",
            _note("no config.json: not a checkpoint directory, showing the files found"),
        )
    rows = [
        ("class", config.get("class")),
        ("aekit version", config.get("aekit_version")),
        ("torch version", config.get("torch_version")),
    ]
    rows += [(f"args.{k}", v) for k, v in _flatten(config.get("args") or {})]
    rows += [(f"extra.{k}", v) for k, v in _flatten(config.get("extra") or {})]
    body = _table(rows, ("setting", "value"))
    if model is not None:
        n_params = sum(p.numel() for p in model.parameters())
        body += _note(f"{n_params:,} parameters; loaded with {_loader(model)}")
    elif load_error:
        body += _note(f"the checkpoint could not be loaded ({load_error}); figures that need it are skipped")
    return ("configuration", "Configuration", body)


def _loader(model: Any) -> str:
    from .codec.measure import CODEC_CLASSES

    name = type(model).__name__
    return f"{name}.load" if name in CODEC_CLASSES else "aekit.load"


def _curves_section(pngs: dict, used: set, config: object) -> Section:
    history = config.get("history") if isinstance(config, dict) else None
    if not isinstance(history, dict) or not any(history.values()):
        history = None  # untrained, or a history that is not one
    figs = _claim(pngs, used, "curves")
    body = "".join(_img(d, n) for n, d in figs)
    if (
        not figs and history is not None and history.get("train_loss")
    ):  # per epoch (a photo codec's: per step)
        try:
            body += _img(
                _draw(viz.training_curves, history), "training curves (drawn from config.json history)"
            )
        except (ValueError, TypeError) as err:
            body += _note(f"the history in config.json could not be drawn: {err}")
    if history is not None:
        last = {
            k: v[-1]
            for k, v in history.items()
            if isinstance(v, list) and v and _json_number(v[-1]) is not None
        }
        last.update({k: history[k] for k in ("best_epoch", "stopped_early") if k in history})
        body += _table(last.items(), ("last epoch" if "epoch" in history else "last entry", "value"))
    return ("curves", "Training curves", body or _note("no training history or curves figure found"))


def _metrics_section(docs: dict, problems: list[str]) -> tuple[Section, dict[str, list]]:
    """The metrics JSON files as tables, and the rate-distortion points found in them."""
    rd: dict[str, list] = {}
    body = ""
    for name, doc in docs.items():
        for method, pts in rd_points(doc).items():
            rd.setdefault(method, []).extend(pts)
        body += f"<h3>{_esc(name)}</h3>" + _table(_flatten(doc))
    body += "".join(_note(p) for p in problems)
    return ("metrics", "Metrics", body or _note("no metrics JSON found")), rd


def _is_codec(model: Any) -> bool:
    from .codec.measure import CODEC_CLASSES

    return type(model).__name__ in CODEC_CLASSES


def _codec_measures(codec: Any, X: Any, rd: dict[str, list]) -> str:
    """A codec's rate-distortion point on ``X`` (added to ``rd``) and its reconstructions through the
    bitstream, as HTML (a note when they cannot be measured)."""
    from .codec.measure import PHOTO_CLASSES, draw_reconstructions, rd_point

    if not codec.updated:
        return _note("a codec without entropy tables (a training checkpoint; its export/ folder has them)")
    try:
        if not isinstance(codec, PHOTO_CLASSES):
            X = np.asarray(X, dtype=np.float32)
            X = X.reshape(len(X), *codec.input_shape)
        point = rd_point(codec, X)
        rd.setdefault("this codec on the given data", []).append((point["bytes_per_item"], point["psnr_db"]))
        return _img(
            _draw(draw_reconstructions, codec, X),
            f"reconstructions through the bitstream ({point['n']} items: {point['bytes_per_item']:.2f} "
            f"bytes per item, PSNR {point['psnr_db']:.2f} dB)",
        )
    except (ValueError, TypeError, RuntimeError) as err:  # DataError, BitstreamError are ValueErrors
        return _note(f"the codec could not be measured on the given data: {err}")


def _reconstructions_section(
    pngs: dict, used: set, model: Any, X: ArrayLike | None, codec_figure: str | None = None
) -> Section:
    figs = _claim(pngs, used, "reconstructions")
    body = "".join(_img(d, n) for n, d in figs) + (codec_figure or "")
    if not figs and codec_figure is None and model is not None and X is not None:
        try:
            samples = np.asarray(X)[:10]
            if len(getattr(model, "input_shape", None) or ()) == 1:  # a dense model takes flat vectors
                samples = samples.reshape(len(samples), -1)
            body += _img(
                _draw(viz.reconstruction_grid, viz.reconstruction_rows(model, samples)),
                "reconstructions (drawn from the checkpoint)",
            )
        except (ValueError, TypeError, RuntimeError) as err:
            body += _note(f"reconstructions could not be drawn: {err}")
    missing = _note("no reconstruction figure (give --data to draw one from the checkpoint)")
    return ("reconstructions", "Reconstructions", body or missing)


def _filters_section(pngs: dict, used: set, model: Any) -> Section | None:
    figs = _claim(pngs, used, "filters")
    body = "".join(_img(d, n) for n, d in figs)
    if not figs and model is not None:
        try:
            W = viz.first_layer_weights(model)
            shape = getattr(model, "input_shape", None)
            body += _img(
                _draw(viz.filter_tiles, W, sample_shape=shape if shape and None not in shape else None),
                "first-layer filters (drawn from the checkpoint)",
            )
        except (ValueError, TypeError) as err:
            body += _note(f"no filter figure: {err}")
    return ("filters", "Filters", body) if body else None


def _figures_section(pngs: dict, used: set, key: str, heading: str) -> Section | None:
    """The run's own figures named for ``key``, if any."""
    figs = _claim(pngs, used, key)
    return (key, heading, "".join(_img(d, n) for n, d in figs)) if figs else None


def _rate_distortion_section(pngs: dict, used: set, rd: dict[str, list]) -> Section | None:
    figs = _claim(pngs, used, "rd")
    body = "".join(_img(d, n) for n, d in figs)
    if rd:
        try:
            if not figs:
                body += _img(_draw(viz.rate_distortion, rd), "rate-distortion (drawn from the JSON points)")
        except ValueError as err:
            body += _note(f"rate-distortion points could not be drawn: {err}")
        rows = [
            (f"{method} #{i + 1}", f"{b:g} bytes, {p:.2f} dB")
            for method, pts in rd.items()
            for i, (b, p) in enumerate(sorted(pts))
        ]
        body += _table(rows, ("point", "bytes, PSNR"))
    return ("rate-distortion", "Rate-distortion", body) if body else None


def _page(run_dir: Path, title: str, sections: list[Section]) -> str:
    """The HTML page: title, a navigation bar and the sections."""
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    nav = "".join(f'<a href="#{sid}">{_esc(head)}</a>' for sid, head, _ in sections)
    parts = [f'<section id="{sid}"><h2>{_esc(head)}</h2>{body}</section>' for sid, head, body in sections]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1"><title>{_esc(title)}</title>'
        f"<style>{CSS}</style></head><body><h1>{_esc(title)}</h1>"
        f'<p class="note">run directory <code>{_esc(run_dir.resolve())}</code>; written {stamp} by aekit '
        f"{_esc(__version__)}</p><nav>{nav}</nav>{''.join(parts)}</body></html>\n"
    )


def write_report(
    run_dir: str | os.PathLike,
    out: str | os.PathLike,
    *,
    title: str | None = None,
    X: ArrayLike | None = None,
) -> Path:
    """Write :func:`build_report` of ``run_dir`` to ``out`` (atomically) and return the path."""
    out = Path(out)
    if out.suffix.lower() not in (".html", ".htm"):
        raise ValueError(f"the report is an HTML file: --out must end in .html, got {os.fspath(out)!r}")
    atomic_write_text(out, build_report(run_dir, title=title, X=X))
    return out

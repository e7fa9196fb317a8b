"""``GET /docs``: the service's API reference as one HTML page, written from its OpenAPI schema, offline.

FastAPI's own ``/docs`` (Swagger UI) and ``/redoc`` load their JavaScript and CSS from a CDN,
so on a machine without internet access they are blank pages. This page is rendered on the
server from ``app.openapi()`` (the same schema as ``/openapi.json``): every route with its
summary, request body, parameters and every status code it can answer, and the JSON schemas
of the bodies. It needs no script, no stylesheet and no font from anywhere, so it shows
wherever the service runs; the schema itself stays at ``/openapi.json`` for tools.
"""

from __future__ import annotations

import html
import json
from typing import Any

from fastapi import FastAPI
from fastapi.responses import HTMLResponse

from ..media import DECODE_PATH, OCTET_STREAM

__all__ = ["add_docs", "docs_page"]

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;margin:2em auto;max-width:960px;
color:#222;padding:0 1em}h1{border-bottom:2px solid #444}h2{margin-top:1.6em;border-bottom:1px solid #ccc}
.op{border:1px solid #ccc;border-radius:6px;margin:1em 0;padding:.6em 1em}.method{display:inline-block;
min-width:4.5em;font-weight:bold;color:#fff;border-radius:4px;padding:.1em .5em;margin-right:.6em;text-align:center}
.get{background:#2f7fc1}.post{background:#3a9b5c}.put,.patch{background:#c28a2f}.delete{background:#c23b2f}
table{border-collapse:collapse;margin:.4em 0 .8em}td,th{border:1px solid #ddd;padding:.25em .6em;text-align:left;
vertical-align:top;font-size:.93em}th{background:#f2f2f2}code,pre{background:#f4f4f4;padding:0 .25em}
pre{padding:.6em;overflow-x:auto}.note{color:#666}
"""


def _esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def _type(schema: dict) -> str:
    """A short readable type: ``Health``, ``array of ModelInfo``, ``integer or null``, ``binary``."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return f'<a href="#schema-{_esc(name)}">{_esc(name)}</a>'
    if "anyOf" in schema:
        return " or ".join(_type(s) for s in schema["anyOf"])
    kind = schema.get("type", "any")
    if kind == "array":
        return f"array of {_type(schema.get('items', {}))}"
    if schema.get("format") == "binary":
        return "binary"
    return _esc(kind)


def _content(content: dict) -> str:
    return ", ".join(
        f"<code>{_esc(media)}</code> ({_type(c.get('schema', {}))})" for media, c in content.items()
    )


def _operation(path: str, method: str, op: dict) -> str:
    parts = [
        f'<div class="op" id="{_esc(op.get("operationId", method + path))}">'
        f'<span class="method {_esc(method)}">{_esc(method.upper())}</span><code>{_esc(path)}</code> '
        f"{_esc(op.get('summary', ''))}"
    ]
    if op.get("description"):
        parts.append(f"<p>{_esc(op['description'])}</p>")
    params = op.get("parameters") or []
    if params:
        rows = "".join(
            f"<tr><td><code>{_esc(p.get('name'))}</code></td><td>{_esc(p.get('in'))}</td>"
            f"<td>{_type(p.get('schema', {}))}</td><td>{'yes' if p.get('required') else 'no'}</td></tr>"
            for p in params
        )
        parts.append(
            f"<table><tr><th>parameter</th><th>in</th><th>type</th><th>required</th></tr>{rows}</table>"
        )
    body = op.get("requestBody")
    if body:
        parts.append(f"<p>Request body: {_content(body.get('content', {}))}</p>")
    rows = "".join(
        f"<tr><td>{_esc(code)}</td><td>{_esc(r.get('description', ''))}</td><td>{_content(r.get('content', {}))}</td></tr>"
        for code, r in op.get("responses", {}).items()
    )
    parts.append(f"<table><tr><th>status</th><th>meaning</th><th>body</th></tr>{rows}</table></div>")
    return "".join(parts)


def _schema(name: str, schema: dict) -> str:
    required = set(schema.get("required", []))
    rows = "".join(
        f"<tr><td><code>{_esc(prop)}</code></td><td>{_type(s)}</td><td>{'yes' if prop in required else 'no'}</td>"
        f"<td>{_esc(json.dumps(s['default'])) if 'default' in s else ''}</td></tr>"
        for prop, s in schema.get("properties", {}).items()
    )
    note = f"<p>{_esc(schema['description'])}</p>" if schema.get("description") else ""
    return (
        f'<h3 id="schema-{_esc(name)}">{_esc(name)}</h3>{note}<table><tr><th>field</th><th>type</th>'
        f"<th>required</th><th>default</th></tr>{rows}</table>"
    )


def docs_page(schema: dict[str, Any]) -> str:
    """The HTML page documenting the OpenAPI ``schema`` (no script, no external resource)."""
    info = schema.get("info", {})
    title = f"{info.get('title', 'API')} (version {info.get('version', '?')})"
    ops = "".join(
        _operation(path, method, op)
        for path, methods in schema.get("paths", {}).items()
        for method, op in methods.items()
    )
    schemas = "".join(_schema(n, s) for n, s in schema.get("components", {}).get("schemas", {}).items())
    example = (
        f"curl --data-binary @codes.aek -H 'Content-Type: {OCTET_STREAM}' "
        f"http://HOST:PORT{DECODE_PATH} -o recon.npy\n"
        "aekit send IMAGE --server http://HOST:PORT --model CODEC_DIR   # compresses on this machine, then posts"
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1"><title>{_esc(title)}</title>'
        f"<style>{CSS}</style></head><body><h1>{_esc(title)}</h1><p>{_esc(info.get('description', ''))}</p>"
        '<p class="note">The machine-readable schema: <a href="/openapi.json">/openapi.json</a> '
        f"(OpenAPI {_esc(schema.get('openapi', ''))}).</p><h2>Routes</h2>{ops}"
        f"<h2>Example</h2><pre>{_esc(example)}</pre><h2>Schemas</h2>{schemas}</body></html>\n"
    )


def add_docs(app: FastAPI, path: str = "/docs") -> None:
    """Serve :func:`docs_page` of ``app``'s schema at ``path`` (the app is made with ``docs_url=None``)."""
    page: list[str] = []

    @app.get(path, include_in_schema=False, response_class=HTMLResponse)
    async def docs() -> HTMLResponse:
        if not page:  # the schema is complete once every route is added: written on the first request
            page.append(docs_page(app.openapi()))
        return HTMLResponse(page[0])

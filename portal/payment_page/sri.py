"""Subresource Integrity for our own static scripts.

``sri("js/customer/pay.js")`` returns ``"sha384-<base64>"`` for the file under ``static/``, for
``<script src=... integrity="{{ sri(...) }}" crossorigin="anonymous">``: a browser refuses to
run a file whose bytes do not match, so a script changed on disk, on a CDN or proxy in
between, or by anyone other than a release, does not run (PCI DSS 6.4.3).

Each file is hashed once per process: static files change only with a release, which restarts
the processes. (In debug mode the hash is taken on every call, so editing a script while the
development server runs does not lock it out.)
"""

from __future__ import annotations

import base64
import hashlib
from functools import cache
from pathlib import Path

from flask import Flask, current_app
from werkzeug.security import safe_join

ALGORITHM = "sha384"


def integrity_of(content: bytes) -> str:
    """The SRI value of ``content``: ``sha384-`` and the base64 of its SHA-384 digest."""
    digest = hashlib.sha384(content).digest()
    return f"{ALGORITHM}-{base64.b64encode(digest).decode('ascii')}"


def _file_integrity(path: str) -> str:
    return integrity_of(Path(path).read_bytes())


_cached_file_integrity = cache(_file_integrity)


def static_path(filename: str, app: Flask | None = None) -> str:
    """The file ``filename`` names under the app's static folder. Raises FileNotFoundError
    for a name outside it or a file that does not exist."""
    app = app or current_app
    path = safe_join(str(app.static_folder), filename)
    if path is None or not Path(path).is_file():
        raise FileNotFoundError(f"no static file {filename!r}")
    return path


def sri(filename: str) -> str:
    """The integrity value for the static file ``filename`` (e.g. ``js/agent/console.js``).
    Raises FileNotFoundError, so a template naming a missing script fails loudly."""
    path = static_path(filename)
    if current_app.debug:
        return _file_integrity(path)
    return _cached_file_integrity(path)


def init_sri(app: Flask) -> None:
    app.jinja_env.globals["sri"] = sri

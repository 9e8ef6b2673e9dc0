"""sri(filename): the Subresource Integrity value of our own static scripts."""

from __future__ import annotations

import base64
import hashlib
import re

import pytest
from flask import render_template_string

from config.settings import PROJECT_ROOT
from portal.payment_page import sri


def expected(path) -> str:
    return "sha384-" + base64.b64encode(hashlib.sha384(path.read_bytes()).digest()).decode()


def test_sri_is_the_sha384_of_the_file(app):
    with app.test_request_context():
        value = render_template_string("{{ sri('js/customer/pay.js') }}")
    assert value == expected(PROJECT_ROOT / "static/js/customer/pay.js")


@pytest.mark.parametrize("name", ["js/nope.js", "../config/settings.py", "/etc/passwd", ""])
def test_a_missing_or_outside_file_fails_loudly(app, name):
    with app.test_request_context(), pytest.raises(FileNotFoundError):
        sri.sri(name)


def test_each_file_is_hashed_once_per_process(app, tmp_path, monkeypatch):
    script = tmp_path / "js" / "x.js"
    script.parent.mkdir()
    script.write_text("one")
    monkeypatch.setattr(app, "static_folder", str(tmp_path))
    with app.test_request_context():
        first = sri.sri("js/x.js")
        script.write_text("two")
        assert sri.sri("js/x.js") == first  # cached: a release restarts the process
        app.debug = True
        assert sri.sri("js/x.js") != first  # debug: always fresh


def test_every_script_tag_of_ours_carries_integrity():
    """Customer and staff pages alike: every <script src=static> has sri() and crossorigin."""
    tags = []
    for template in (PROJECT_ROOT / "templates").rglob("*.html"):
        tags += [
            (template.name, tag) for tag in re.findall(r"<script\b[^>]*>", template.read_text())
        ]
    ours = [(name, tag) for name, tag in tags if "url_for('static'" in tag]
    assert ours, "no script tags found"
    for name, tag in ours:
        filename = re.search(r"filename='([^']+)'", tag).group(1)
        assert f"integrity=\"{{{{ sri('{filename}') }}}}\"" in tag, name
        assert 'crossorigin="anonymous"' in tag and "csp_nonce()" in tag, name
    others = [(name, tag) for name, tag in tags if "url_for('static'" not in tag]
    assert [name for name, _ in others] == ["pay.html"]  # Stripe.js: see the inventory

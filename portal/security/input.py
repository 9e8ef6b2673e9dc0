"""Refuse request input that no person types: NUL characters in form fields or the query string.

PostgreSQL cannot store NUL in text, so without this one such character reaching a query would
be a 500; with it, every form and route answers a plain 400 naming the field, before any view
runs.
"""

from __future__ import annotations

from flask import Flask, jsonify, render_template, request

from portal.errors import wants_json


def _field_with_nul(values) -> str | None:
    for key, value in values.items(multi=True):
        if "\x00" in key or "\x00" in value:
            return key.replace("\x00", "")[:40] or "(unnamed)"
    return None


def init_input_checks(app: Flask) -> None:
    @app.before_request
    def _refuse_nul_characters():
        form_post = request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data")
        field = _field_with_nul(request.args) or (
            _field_with_nul(request.form) if form_post else None
        )
        if field is None:
            return None
        if wants_json():
            return jsonify(
                error="bad_characters", field=field, message=f"{field}: contains a NUL character"
            ), 400
        return render_template("errors/bad_characters.html", field=field), 400

"""The API's own description, public: the OpenAPI document flask-smorest wrote from the
operations (``portal.api.spec`` adds what it cannot infer) and a page that draws it with the
vendored Swagger UI (no CDN)."""

from __future__ import annotations

from flask import jsonify, render_template
from flask_smorest import current_api

from portal.api.blueprint import undocumented_route


def openapi():
    return jsonify(current_api.spec.to_dict())


def reference():
    return render_template("api/reference.html")


undocumented_route("/openapi.json", openapi)
undocumented_route("/docs", reference)

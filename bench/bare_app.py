"""The ceiling: a bare Flask JSON endpoint served by the same gunicorn settings as Postern.

gunicorn -c config/gunicorn.conf.py bench.bare_app:app
"""

from flask import Flask, jsonify

app = Flask(__name__)


@app.get("/json")
def json_endpoint():
    return jsonify(status="ok", service="bare")


@app.get("/healthz")
def healthz():
    return jsonify(status="ok")

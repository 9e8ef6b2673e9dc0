# Examples for .semgrep/postern.yml (semgrep --test .semgrep/). Never imported or run.
# ruff: noqa
import json

import itsdangerous
import sqlalchemy
from flask import render_template_string
from markupsafe import Markup
from sqlalchemy import text

serializer = itsdangerous.URLSafeTimedSerializer("key", salt="purpose")

# ruleid: itsdangerous-loads-without-max-age
claim = serializer.loads(token)
# ruleid: itsdangerous-loads-without-max-age
claim = serializer.loads(token, salt="other")
# ruleid: itsdangerous-loads-without-max-age
claim = reader().loads_unsafe(token)
# ok: itsdangerous-loads-without-max-age
claim = serializer.loads(token, max_age=3600)
# ok: itsdangerous-loads-without-max-age
data = json.loads(body)

# ruleid: itsdangerous-untimed-serializer
plain = itsdangerous.URLSafeSerializer("key")
# ok: itsdangerous-untimed-serializer
timed = itsdangerous.URLSafeTimedSerializer("key")

# ruleid: csrf-exemption-outside-csrf-module
csrf.exempt(blueprint)


# ruleid: csrf-exemption-outside-csrf-module
@csrf.exempt
def hook():
    pass


# ruleid: csrf-exemption-outside-csrf-module
protect.exempt(blueprint)


# ok: csrf-exemption-outside-csrf-module
@limiter.exempt
def signed_hook():
    pass


# ruleid: csrf-exemption-outside-csrf-module
app.config["WTF_CSRF_ENABLED"] = False
# ok: csrf-exemption-outside-csrf-module
app.config["WTF_CSRF_ENABLED"] = True

# ruleid: markup-in-python
banner = Markup(f"<b>{name}</b>")
# ruleid: markup-in-python
page = render_template_string(user_template)
# ok: markup-in-python
page = render("page.html", name=name)

# ruleid: raw-sql-string-building
db.session.execute(text(f"SELECT * FROM t WHERE name = '{name}'"))
# ruleid: raw-sql-string-building
db.session.execute(sqlalchemy.text("SELECT * FROM t WHERE id = %s" % ident))
# ruleid: raw-sql-string-building
db.session.execute(text("SELECT * FROM " + table))
# ruleid: raw-sql-string-building
cursor.execute(f"DELETE FROM t WHERE id = {ident}")
# ruleid: raw-sql-string-building
connection.exec_driver_sql("SELECT {}".format(column))
# ok: raw-sql-string-building
db.session.execute(text("SELECT * FROM t WHERE name = :name"), {"name": name})
# ok: raw-sql-string-building
cursor.execute("SELECT * FROM t WHERE id = %s", (ident,))

# ruleid: stripe-imported-outside-the-gateway
import stripe

# ruleid: stripe-imported-outside-the-gateway
from stripe import StripeClient

# ok: stripe-imported-outside-the-gateway
from portal.payments.gateway import StripeGateway

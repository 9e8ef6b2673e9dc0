"""Captured personal data in the back office: masked by default, one field revealed at a
time with a reason; and data-subject requests (an access export, erasure). Thin views over
``portal.data_subject``; every value shown or exported is audited before it leaves, and only
after the staff member has confirmed it is them (``backoffice.reauth``), as for a refund."""

from __future__ import annotations

import json

from flask import Response, abort, flash, g, redirect, render_template, request, url_for
from wtforms.fields.choices import SelectChoice

from config.retention import describe_retention
from portal.backoffice import kept_forms
from portal.backoffice.action_forms import EraseForm, ExportForm, RevealForm
from portal.backoffice.reauth import ask_for_reauth, needs_reauth, recently_reauthenticated
from portal.backoffice.views import bp
from portal.data_subject import export, service
from portal.delivery.outbox import delivery_summary
from portal.extensions import db
from portal.i18n import gettext
from portal.payments.service import payment_for
from portal.personal_data import service as personal_data
from portal.personal_data.common import DataCaptureError, field_set_for
from portal.security.actors import signed_in_actor
from portal.security.authz import Permission, has_permission
from portal.security.guards import requires


def _request_or_404(public_id: str):
    found = service.find_request(public_id)
    if found is None:
        abort(404)
    return found


def _fields(capture_request) -> list:
    try:
        return personal_data.masked_summary(capture_request)
    except DataCaptureError:
        return []  # a payment-only request: no personal-data fields


def _sentence(text: str) -> str:
    """A service's message as a sentence: capital first letter, one full stop."""
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")


def _reveal_form(capture_request, fields) -> RevealForm:
    form = kept_forms.restore(RevealForm) or RevealForm()
    form.field.choices = [SelectChoice(f.name, f.label) for f in fields if f.state == "received"]
    return form


def _render_data(capture_request, form, *, revealed=None, error=None, status=200):
    fields = _fields(capture_request)
    return render_template(
        "backoffice/reveal.html",
        request=capture_request,
        fields=fields,
        form=form,
        can_reveal=has_permission(g.staff_user.role, Permission.DATA_REVEAL),
        reauthenticated=recently_reauthenticated(),
        revealed=revealed,
        error=gettext(error) if error else error,  # a service's message, marked where raised
    ), status


@bp.get("/requests/<public_id>/data")
@requires(Permission.TRANSACTIONS_VIEW_ALL)
def captured_data(public_id: str):
    capture_request = _request_or_404(public_id)
    return _render_data(capture_request, _reveal_form(capture_request, _fields(capture_request)))


@bp.post("/requests/<public_id>/data/reveal")
@requires(Permission.DATA_REVEAL)
def reveal_value(public_id: str):
    """Show ONE value, once, in this response only (Cache-Control: no-store is global). The
    value is never logged, flashed or put in a URL."""
    capture_request = _request_or_404(public_id)
    form = _reveal_form(capture_request, _fields(capture_request))
    if not form.validate_on_submit():
        return _render_data(capture_request, form, status=400)
    back = url_for("backoffice.captured_data", public_id=public_id)
    stop = needs_reauth(back, form)
    if stop is not None:
        return stop
    name = form.field.data
    try:
        values = personal_data.reveal(
            capture_request,
            form.reason.data,
            signed_in_actor(),
            reauthenticated_at=g.staff_session.reauthenticated_at,
            field=name,
        )
        db.session.commit()  # the audit row exists before the value leaves
    except personal_data.ReauthRequired:  # it lapsed between the check above and the service's
        db.session.rollback()
        return ask_for_reauth(back, form)
    except personal_data.ValueUnreadable as problem:
        db.session.commit()  # nothing was revealed, but the attempt stays on record
        return _render_data(capture_request, form, error=str(problem), status=409)
    except DataCaptureError as problem:
        db.session.rollback()
        return _render_data(capture_request, form, error=_sentence(str(problem)), status=400)
    label = next((c.label for c in form.field.choices if c.value == name), "Value")
    form.reason.data = ""
    return _render_data(capture_request, form, revealed={"label": label, "value": values[name]})


@bp.route("/data-requests", methods=["GET", "POST"])
@requires(Permission.DATA_SUBJECT_REQUESTS)
def data_requests():
    # The form posts, so an email address or phone number typed here never enters the URL
    # (browser history, a proxy's log); ``?q=`` still works for a link to an id or reference.
    term = (request.form.get("q") or "").strip()[:320]
    if request.method == "GET":
        term = (request.args.get("q") or "").strip()[:320]
        if service.reads_as_contact(term):  # never searched from a URL: only by the form
            term = ""
    if not term:
        return render_template("backoffice/data_request_find.html", term="", found=None)
    found = service.search(term, signed_in_actor())
    db.session.commit()  # the search's audit row
    return render_template(
        "backoffice/data_request_find.html",
        term=term,
        found=found,
        contact_kept=describe_retention("link_and_delivery"),
    )


def _render_request(capture_request, export_form=None, erase_form=None, error=None, status=200):
    try:
        field_set = field_set_for(capture_request) if capture_request.field_set else None
    except DataCaptureError:
        field_set = None
    return render_template(
        "backoffice/data_request.html",
        request=capture_request,
        field_set=field_set,
        fields=_fields(capture_request),
        deliveries=delivery_summary(capture_request.id),
        payment=payment_for(capture_request),
        export_form=export_form or kept_forms.restore(ExportForm) or ExportForm(),
        erase_form=erase_form or kept_forms.restore(EraseForm) or EraseForm(),
        reauthenticated=recently_reauthenticated(),
        error=gettext(error) if error else error,  # a service's message, marked where raised
    ), status


@bp.get("/data-requests/<public_id>")
@requires(Permission.DATA_SUBJECT_REQUESTS)
def data_request(public_id: str):
    return _render_request(_request_or_404(public_id))


@bp.post("/data-requests/<public_id>/export")
@requires(Permission.DATA_SUBJECT_REQUESTS)
def data_export(public_id: str):
    """The subject-access file: JSON, as an attachment, audited before it is sent."""
    capture_request = _request_or_404(public_id)
    form = ExportForm()
    if not form.validate_on_submit():
        return _render_request(capture_request, export_form=form, status=400)
    back = url_for("backoffice.data_request", public_id=public_id)
    stop = needs_reauth(back, form)
    if stop is not None:
        return stop
    try:
        document = export.export_request(
            capture_request,
            form.reason.data,
            signed_in_actor(),
            reauthenticated_at=g.staff_session.reauthenticated_at,
        )
        db.session.commit()
    except personal_data.ReauthRequired:  # it lapsed between the check above and the service's
        db.session.rollback()
        return ask_for_reauth(back, form)
    except personal_data.ValueUnreadable as problem:
        db.session.commit()  # nothing is handed out, but the attempt stays on record
        return _render_request(capture_request, export_form=form, error=str(problem), status=409)
    except DataCaptureError as problem:
        db.session.rollback()
        return _render_request(capture_request, export_form=form, error=str(problem), status=400)
    body = json.dumps(document, indent=2, ensure_ascii=False)
    return Response(
        body,
        mimetype="application/json",
        headers={
            "Content-Disposition": (
                f'attachment; filename="subject-access-{capture_request.public_id}.json"'
            )
        },
    )


@bp.post("/data-requests/<public_id>/erase")
@requires(Permission.DATA_SUBJECT_REQUESTS)
def data_erase(public_id: str):
    capture_request = _request_or_404(public_id)
    form = EraseForm()
    if not form.validate_on_submit():
        return _render_request(capture_request, erase_form=form, status=400)
    back = url_for("backoffice.data_request", public_id=public_id)
    stop = needs_reauth(back, form)
    if stop is not None:
        return stop
    try:
        report = service.erase_request(capture_request, form.reason.data, signed_in_actor())
        db.session.commit()
    except DataCaptureError as problem:
        db.session.rollback()
        return _render_request(capture_request, erase_form=form, error=str(problem), status=409)
    # Whole sentences, each translated on its own.
    sentences = [
        gettext(
            "Erased: %(values)d value(s) deleted, %(messages)d message(s) emptied.",
            values=report.values_deleted,
            messages=report.messages_cleared,
        )
    ]
    if report.messages_still_sending:
        sentences.append(
            gettext("A message was still being sent: erase again in a minute to finish.")
        )
    if report.reference_kept:
        sentences.append(
            gettext("The reference is kept with the payment record, as accounting requires.")
        )
    flash(" ".join(sentences), "success")
    return redirect(back, code=303)

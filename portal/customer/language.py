"""Which language a customer's page is in, and the "Cymraeg" / "English" switch at its top.

A customer page (anything under /c/, errors there included, and the accessibility statement
the footer links to) is in:

1. the language the customer chose with the switch, kept in a cookie for the rest of the
   visit (no expiry: it ends with the browser session);
2. otherwise the language the agent chose for the request (``CaptureRequest.language``), once
   the view has resolved the link (``remember_request_language``);
3. otherwise English.

Staff pages are always English (the staff side is marked for translation, English shipped).

The switch is a plain GET link to the page itself with ``?lang=cy`` (GOV.UK's pattern, no
JavaScript): ``switch_language`` answers it before any view runs, sets the cookie and
redirects to the same path without ``lang``. It never leaves the page's own address (no
open redirect), never consumes the one-time link (a GET never does, ``portal.customer.views``)
and touches no form, so CSRF tokens are unaffected.
"""

from __future__ import annotations

from urllib.parse import urlencode

from flask import Flask, current_app, g, redirect, request

from portal.i18n import (
    DEFAULT_LANGUAGE,
    ENGLISH,
    HTML_LANG,
    LANGUAGES,
    WELSH,
    current_language,
    translated,
)

COOKIE = "postern_language"
QUERY = "lang"
#: The customer's part of the site: the link pages and their errors.
CUSTOMER_PREFIX = "/c/"
#: Public pages a customer reaches from theirs (the footer), shown in their language too.
CUSTOMER_PUBLIC_PAGES = ("/accessibility",)


def is_customer_page() -> bool:
    return request.path.startswith(CUSTOMER_PREFIX) or request.path in CUSTOMER_PUBLIC_PAGES


def remember_request_language(code: str | None) -> None:
    """The language the request being shown was created in (used when the customer has not
    chosen one with the switch). Call before anything is translated."""
    if code in LANGUAGES:
        g.customer_request_language = code


def chosen_language() -> str | None:
    """The language the customer chose with the switch this visit, if any."""
    chosen = request.cookies.get(COOKIE)
    return chosen if chosen in LANGUAGES else None


def select_locale() -> str:
    """Flask-Babel's selector: the language of the page being rendered."""
    from flask import has_request_context

    if not has_request_context() or not is_customer_page():
        return DEFAULT_LANGUAGE
    return chosen_language() or g.get("customer_request_language") or DEFAULT_LANGUAGE


def switch_language():
    """``GET <customer page>?lang=cy``: keep the choice, then show the page itself again."""
    code = request.args.get(QUERY)
    if request.method != "GET" or code is None or not is_customer_page():
        return None
    if code not in LANGUAGES:
        code = DEFAULT_LANGUAGE
    rest = [(key, value) for key, value in request.args.items(multi=True) if key != QUERY]
    target = request.path + (f"?{urlencode(rest)}" if rest else "")
    response = redirect(target, code=303)
    response.set_cookie(
        COOKIE,
        code,
        secure=current_app.config["SESSION_COOKIE_SECURE"],
        httponly=True,
        samesite="Lax",
        path="/",  # the link pages and the public pages they link to; staff pages ignore it
    )
    return response


def language_switch() -> dict | None:
    """What the switch at the top of a customer page shows: the other language's name (in that
    language), its code for ``lang``/``hreflang``, and the link. None off the customer pages.

    After a POST (a form shown again with its errors) the link goes to the link's landing
    page, which sends the customer on to where they are: a POST-only address cannot be fetched.
    """
    if not is_customer_page():
        return None
    here = current_language()
    other = WELSH if here == ENGLISH else ENGLISH
    path = request.path
    if request.method != "GET":
        token = (request.view_args or {}).get("token")
        path = f"{CUSTOMER_PREFIX}{token}" if token else path
    return {
        "current": here,
        "current_name": LANGUAGES[here],
        "code": other,
        "name": LANGUAGES[other],
        "href": f"{path}?{urlencode({QUERY: other})}",
    }


def page_lang() -> str:
    """The ``lang`` attribute of the page being rendered."""
    return HTML_LANG[current_language()]


def init_customer_language(app: Flask) -> None:
    """The switch (before any view, rate limit or CSRF check: it only sets a cookie and
    redirects), the template globals ``page_lang`` and ``language_switch``, and the
    ``translated`` filter."""
    app.before_request(switch_language)
    app.jinja_env.globals.update(page_lang=page_lang, language_switch=language_switch)
    app.jinja_env.filters["translated"] = translated

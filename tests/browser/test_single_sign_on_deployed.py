"""Single sign-on on Postern as deployed (tests/prodlike): production settings, gunicorn on its
own TLS, PostgreSQL and Redis, against the real OpenID Provider served over HTTPS (production
refuses an http:// issuer) with the stack's certificate.

One gunicorn instance of its own joins the stack's database with the provider configured (the
stack's other instances have none); Chromium trusts the certificate by its pin, gunicorn by
REQUESTS_CA_BUNDLE, the provider's back-channel calls by NODE_EXTRA_CA_CERTS.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from tests.prodlike.certificates import HOST
from tests.prodlike.stack import _wait_ready
from tests.support.loopback import free_port
from tests.support.openid_provider import running_provider

pytestmark = pytest.mark.browser

PROVIDER = "testidp"


@pytest.fixture
def deployed_sso(prodlike, tmp_path) -> Iterator[tuple[str, object]]:
    certificates = prodlike.certificates
    with running_provider(
        tmp_path / "idp",
        OIDC_TLS_CERT=str(certificates.cert_file),
        OIDC_TLS_KEY=str(certificates.key_file),
        NODE_EXTRA_CA_CERTS=str(certificates.ca_file),
    ) as provider:
        port = free_port()
        base = f"https://{HOST}:{port}"
        provider.register_portal(base, PROVIDER)
        provider.set_users(
            {
                "dora": {
                    "sub": f"sub-dora-{port}",
                    "password": "dora-idp-password",
                    "email": f"dora.{port}@example.test",
                    "name": "Dora Example",
                    "groups": ["postern-backoffice"],
                    "amr": ["pwd", "mfa"],
                }
            }
        )
        setting = provider.provider_setting(PROVIDER, jit=True)
        service = prodlike.start_gunicorn(
            f"gunicorn-sso-{port}",
            f"127.0.0.1:{port}",
            POSTERN_PROXY_HOPS="0",
            POSTERN_TLS_CERT=str(certificates.cert_file),
            POSTERN_TLS_KEY=str(certificates.key_file),
            POSTERN_WORKERS="1",
            POSTERN_SSO_PROVIDERS=json.dumps([setting]),
            REQUESTS_CA_BUNDLE=str(certificates.ca_file),
        )
        try:
            _wait_ready(prodlike.https(), base, service)
            yield base, provider
        finally:
            service.stop()
            prodlike.services.pop(service.name, None)


def test_sso_sign_in_and_back_channel_logout_on_the_deployed_stack(
    deployed_sso, browser, browser_problems
):
    base, provider = deployed_sso
    page = browser_problems.watch(browser.new_context().new_page())
    page.goto(base + "/login")
    page.get_by_role("button", name="Sign in with Test ID").click()
    expect(page.get_by_role("heading", name="Sign in to the identity provider")).to_be_visible()
    page.get_by_label("Username").fill("dora")
    page.get_by_label("Password").fill("dora-idp-password")
    page.get_by_role("button", name="Sign in").click()

    expect(page).to_have_url(base + "/backoffice/")
    expect(page.get_by_role("heading", name="Back office")).to_be_visible()

    page.goto(provider.issuer + "/session/end")
    page.get_by_role("button", name="Yes, sign me out").click()
    expect(page.get_by_role("heading", name="Signed out of the identity provider")).to_be_visible()
    page.goto(base + "/backoffice/")
    expect(page).to_have_url(re.compile(re.escape(base) + r"/login"))
    page.context.close()

"""Chromium's virtual WebAuthn authenticator for browser tests (the DevTools WebAuthn domain,
through a Playwright CDP session): a platform authenticator with resident keys and user
verification, as a laptop's fingerprint reader or a phone offers."""

from __future__ import annotations

from playwright.sync_api import Page


class VirtualAuthenticator:
    """Chromium's virtual platform authenticator on one page."""

    def __init__(self, page: Page):
        self.cdp = page.context.new_cdp_session(page)
        self.cdp.send("WebAuthn.enable", {"enableUI": False})
        self.id = self.cdp.send(
            "WebAuthn.addVirtualAuthenticator",
            {
                "options": {
                    "protocol": "ctap2",
                    "transport": "internal",
                    "hasResidentKey": True,
                    "hasUserVerification": True,
                    "isUserVerified": True,
                    "automaticPresenceSimulation": True,
                }
            },
        )["authenticatorId"]

    def credentials(self) -> list[dict]:
        return self.cdp.send("WebAuthn.getCredentials", {"authenticatorId": self.id})["credentials"]

    def wind_counter_back(self, to: int) -> None:
        """Replace the credential by a copy whose sign counter is ``to``, as a cloned
        authenticator would present it."""
        (credential,) = self.credentials()
        self.cdp.send(
            "WebAuthn.removeCredential",
            {"authenticatorId": self.id, "credentialId": credential["credentialId"]},
        )
        self.cdp.send(
            "WebAuthn.addCredential",
            {"authenticatorId": self.id, "credential": {**credential, "signCount": to}},
        )

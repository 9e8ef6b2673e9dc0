"""Stripe's test cards, and what a customer does with them in the sandbox's Stripe.js frames:
type one into the card frame, answer the 3-D Secure challenge, or pay with the test wallet."""

from __future__ import annotations

from playwright.sync_api import Page

CARD = "4242 4242 4242 4242"
CVC = "123"
THREE_DS_CARD = "4000 0027 6000 3184"
DECLINED_CARD = "4000 0000 0000 0002"


def enter_card(page: Page, number: str, cvc: str = CVC) -> None:
    frame = page.frame_locator('iframe[title="Secure payment input frame"]')
    frame.get_by_label("Card number").fill(number)
    frame.get_by_label("Expiration date").fill("12 / 34")
    frame.get_by_label("Security code").fill(cvc)


def challenge(page: Page):
    return page.frame_locator('iframe[title="3D Secure authentication"]')


def wallet_button(page: Page):
    """The Payment Element's test wallet button (the stand-in for Apple Pay / Google Pay)."""
    frame = page.frame_locator('iframe[title="Secure payment input frame"]')
    return frame.get_by_test_id("sandbox-wallet-button")

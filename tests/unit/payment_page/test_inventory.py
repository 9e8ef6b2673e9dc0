"""The payment page's script inventory file."""

from __future__ import annotations

import pytest

from portal.payment_page.inventory import InventoryError, load_inventory

SETTINGS = {"STRIPE_JS_URL": "https://js.stripe.com/v3/"}


def test_the_repository_inventory_lists_the_payment_page_scripts():
    inventory = load_inventory(SETTINGS)
    assert inventory.page_path == "/c/<token>/pay"
    assert inventory.by_src().keys() == {"https://js.stripe.com/v3/", "/static/js/customer/pay.js"}
    assert inventory.by_src()["/static/js/customer/pay.js"].integrity == "sri"
    assert inventory.inline_scripts == frozenset()
    for script in inventory.scripts:
        assert script.owner and script.purpose


ENTRY = """
[[scripts]]
id = "x"
src = "/static/js/x.js"
owner = "us"
purpose = "p"
justification = "j"
integrity = "sri"
authorised_by = "review"
"""


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not toml [", "cannot read"),
        ("[page]\n" + ENTRY, "needs a path"),
        ('[page]\npath="/p"\n' + ENTRY.replace('owner = "us"', ""), "lacks owner"),
        ('[page]\npath="/p"\n' + ENTRY.replace('"sri"', '"trust-me"'), "integrity must be"),
        (
            '[page]\npath="/p"\n'
            + ENTRY.replace('src = "/static/js/x.js"', 'src_setting = "NOPE"'),
            "NOPE is not set",
        ),
        (
            '[page]\npath="/p"\n'
            + ENTRY.replace('"/static/js/x.js"', '"https://cdn.example/x.js"'),
            "only our own files",
        ),
        ('[page]\npath="/p"\n' + ENTRY + ENTRY, "share an id"),
    ],
)
def test_a_malformed_inventory_is_refused(tmp_path, text, message):
    path = tmp_path / "inventory.toml"
    path.write_text(text)
    with pytest.raises(InventoryError, match=message):
        load_inventory(SETTINGS, path)

"""The data step never answers 500: should the service refuse what the form accepted (the two
share ``validate_value``, so only a misconfiguration can make them disagree), the customer sees
the form again with a message, and nothing is stored."""

from __future__ import annotations

from tests.support.customer_details import ADDRESS, DATA_SPEC, Customer, submission_of


def test_a_refusal_by_the_service_shows_the_form_again_not_an_error_page(app_factory, make_staff):
    # A notice version longer than the service records: the form takes it, the service refuses.
    app = app_factory(PRIVACY_NOTICE_VERSION="v" * 41)
    agent = make_staff("agent")
    customer = Customer(app, agent.id, **DATA_SPEC)
    answer = customer.send(ADDRESS, notice_version="v" * 41)
    text = answer.get_data(as_text=True)
    assert answer.status_code == 400
    assert 'class="error-summary"' in text and "Check this and send it again." in text
    assert "17 Quillfeather Mews" in text  # what was typed is kept, to send again
    assert submission_of(app, customer.public_id) is None

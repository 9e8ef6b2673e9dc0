from tests.support.web import login


def test_agent_can_sign_in_and_reach_the_console(client, make_staff):
    agent = make_staff("agent")
    response = login(client, agent)
    assert response.headers["Location"].endswith("/agent/")
    page = client.get("/agent/")
    assert page.status_code == 200
    assert "Agent console" in page.get_data(as_text=True)


def test_backoffice_login_needs_the_second_factor(client, make_staff):
    user = make_staff("backoffice", mfa=True)
    login(client, user)
    assert client.get("/backoffice/").status_code == 200

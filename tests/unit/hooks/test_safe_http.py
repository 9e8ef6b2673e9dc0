"""Where a webhook may go: addresses refused by kind, at registration (the name resolved) and
at connection (resolved again, and checked before a byte is sent), in production mode; the
allow-list for development, which production never honours."""

from __future__ import annotations

import socket
import ssl

import pytest

from config.settings import ConfigError
from portal import create_app
from portal.hooks.addresses import address_problem
from portal.hooks.safe_http import Policy, UnsafeURL, check_url, policy_for, post
from tests.support.hooks import receiver  # noqa: F401  (a fixture)
from tests.unit.config.production_values import good_production_settings

PUBLIC_V4, PUBLIC_V6 = "93.184.216.34", "2606:4700:4700::1111"


@pytest.fixture(scope="module")
def production() -> Policy:
    """The policy of an app built with production's own settings class."""
    return policy_for(create_app("production", good_production_settings()).config)


def _post(url: str, policy: Policy):
    return post(
        url, b"{}", {"content-type": "application/json"}, policy, connect_timeout=1, read_timeout=1
    )


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.9.9.9",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",  # noqa: S104  (the address under test, not one we bind)
        "224.0.0.1",
        "::1",
        "::",
        "fe80::1",
        "fc00::1",
        "fd00:ec2::254",
        "ff02::1",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "64:ff9b::7f00:1",
        "2002:7f00:1::",
    ],
)
def test_internal_addresses_are_refused(address):
    assert address_problem(address)


@pytest.mark.parametrize("address", [PUBLIC_V4, PUBLIC_V6, "::ffff:93.184.216.34"])
def test_public_addresses_pass(address):
    assert address_problem(address) is None


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/hooks",
        "http://169.254.169.254/latest/meta-data",
        "https://[::1]/hooks",
        "https://localhost/hooks",
        "https://10.0.0.5/hooks",
        "https://169.254.169.254/latest/meta-data",
        "https://[::ffff:127.0.0.1]/hooks",
        "http://example.com/hooks",  # https only in production
        "https://user:pw@example.com/hooks",
        "ftp://example.com/hooks",
    ],
)
def test_refused_at_registration_in_production(production, url):
    with pytest.raises(UnsafeURL):
        check_url(url, production)


@pytest.mark.parametrize(
    "url",
    ["https://[::1]:{port}/hooks", "https://localhost:{port}/hooks", "https://127.0.0.1:{port}/"],
)
def test_refused_at_connection_in_production_before_a_byte_is_sent(production, receiver, url):  # noqa: F811
    answer = _post(url.format(port=receiver.port), production)
    assert not answer.succeeded
    assert answer.error.startswith("refused: it is a loopback address")
    assert receiver.received == []


def test_a_private_address_is_refused_at_connection(production):
    answer = _post("https://10.0.0.5/hooks", production)
    assert answer.error == "refused: it is a private address"


def test_dns_rebinding_is_refused_at_connection(production, receiver, monkeypatch):  # noqa: F811
    """Public at registration, loopback when the worker connects: refused at connection."""
    real = socket.getaddrinfo
    answers = iter([PUBLIC_V4, "127.0.0.1"])

    def resolver(host, port, *args, **kwargs):
        if host != "rebind.example":
            return real(host, port, *args, **kwargs)
        address = next(answers)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

    monkeypatch.setattr(socket, "getaddrinfo", resolver)
    url = f"https://rebind.example:{receiver.port}/hooks"
    assert check_url(url, production) == url
    answer = _post(url, production)
    assert answer.error == "refused: it is a loopback address"
    assert receiver.received == []


def test_production_allow_lists_only_named_ports_and_never_plain_http(production):
    for whole_host in (["gateway.internal"], ["10.0.0.7"], ["[::1]"], ["a:1", "b"]):
        with pytest.raises(ConfigError, match="POSTERN_HOOKS_ALLOWED_HOSTS"):
            create_app(
                "production", {**good_production_settings(), "HOOKS_ALLOWED_HOSTS": whole_host}
            )
    gateway = create_app(
        "production", {**good_production_settings(), "HOOKS_ALLOWED_HOSTS": ["127.0.0.1:8443"]}
    )
    allowed = policy_for(gateway.config)
    assert allowed.https_only
    with pytest.raises(UnsafeURL, match="https"):
        check_url("http://127.0.0.1:8443/hooks", allowed)
    assert check_url("https://127.0.0.1:8443/hooks", allowed) == "https://127.0.0.1:8443/hooks"
    # Only that port: the same host on another port is judged by its address, and refused.
    with pytest.raises(UnsafeURL, match="loopback"):
        check_url("https://127.0.0.1:8444/hooks", allowed)


def test_the_development_allow_list_is_per_host_and_port(receiver):  # noqa: F811
    allowed = Policy(False, frozenset({receiver.allow}))
    assert check_url(receiver.url, allowed) == receiver.url
    assert _post(receiver.url, allowed).succeeded
    with pytest.raises(UnsafeURL):
        check_url(f"http://127.0.0.1:{receiver.port + 1}/hooks", allowed)
    with pytest.raises(UnsafeURL):
        check_url(receiver.url, Policy(False, frozenset()))


def test_redirects_are_not_followed(receiver):  # noqa: F811
    receiver.answers = [302]
    answer = _post(receiver.url, Policy(False, frozenset({receiver.allow})))
    assert answer.status_code == 302 and not answer.succeeded
    assert "redirect" in answer.error
    assert len(receiver.received) == 1


def test_a_receiver_that_never_answers_times_out():
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        port = silent.getsockname()[1]
        policy = Policy(False, frozenset({f"127.0.0.1:{port}"}))
        answer = post(
            f"http://127.0.0.1:{port}/", b"{}", {}, policy, connect_timeout=1, read_timeout=0.3
        )
    assert answer.error == "timed out" and answer.status_code is None


def test_a_gateway_with_the_buyers_own_ca_is_trusted_only_through_the_ca_bundle(tmp_path):
    import trustme

    from tests.support.hooks import start_receiver

    authority = trustme.CA()
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1").configure_cert(tls)
    ca_file = tmp_path / "buyer-ca.pem"
    authority.cert_pem.write_to_path(str(ca_file))
    gateway = start_receiver(tls)
    try:
        allowed = frozenset({gateway.allow})
        public_cas = _post(gateway.url, Policy(True, allowed))
        assert public_cas.error == "TLS failed (certificate or protocol)"
        assert gateway.received == []
        buyers_ca = _post(gateway.url, Policy(True, allowed, str(ca_file)))
        assert buyers_ca.succeeded and len(gateway.received) == 1
    finally:
        gateway.server.shutdown()
        gateway.server.server_close()


def test_an_endpoint_answering_a_byte_at_a_time_is_cut_at_the_deadline():
    """Proves: the read timeout bounds each read, so an endpoint that drips one byte every
    0.2 s would never trip it; the whole exchange has a deadline (connect + read timeouts),
    after which the connection is cut and the attempt recorded as timed out."""
    import threading
    import time

    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    stop = threading.Event()

    def drip():
        conn, _ = server.accept()
        conn.recv(65536)
        with conn:
            while not stop.is_set():
                try:
                    conn.sendall(b"H")
                except OSError:
                    return
                time.sleep(0.2)

    threading.Thread(target=drip, daemon=True).start()
    allowed = Policy(False, frozenset({f"127.0.0.1:{port}"}))
    started = time.monotonic()
    try:
        answer = post(
            f"http://127.0.0.1:{port}/hooks",
            b"{}",
            {"content-type": "application/json"},
            allowed,
            connect_timeout=0.5,
            read_timeout=1,
        )
    finally:
        stop.set()
        server.close()
    assert answer.error == "timed out (the whole exchange took too long)"
    assert answer.status_code is None
    assert time.monotonic() - started < 5


@pytest.mark.parametrize("address", ["169.254.169.254", "fd00:ec2::254", "169.254.1.1", "fe80::1"])
def test_an_allow_listed_name_never_reaches_metadata_or_link_local(monkeypatch, address):
    """Proves: the allow-list exempts a host from the private-address rule, not from the
    metadata and link-local ones: if its name comes to resolve there, nothing is sent."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET

    def resolver(host, port, *args, **kwargs):
        return [(family, socket.SOCK_STREAM, 6, "", (address, port))]

    monkeypatch.setattr(socket, "getaddrinfo", resolver)
    allowed = Policy(False, frozenset({"gateway.internal:8443"}))
    answer = _post("http://gateway.internal:8443/hooks", allowed)
    assert answer.error in (
        "refused: it is a cloud metadata address",
        "refused: it is a link-local address",
    )


def test_site_local_ipv6_is_refused():
    assert address_problem("fec0::1") == "it is a site-local address"

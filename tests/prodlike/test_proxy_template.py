"""The shipped nginx template serves one app instance, rendered exactly as the README says, or
many, each further one a file of its own beside nginx.conf (docs/scaling.md); and it adds no
header of its own to Postern's answers (the stack's X-Upstream is the test rendering's)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from tests.prodlike.certificates import HOST, Certificates
from tests.prodlike.proxy import MORE_UPSTREAMS, NGINX, PROXY_TEMPLATE, render_proxy_config


def _effective_configuration(tmp_path: Path, more: tuple[str, ...]) -> str:
    """``nginx -T`` of the template rendered by the README's envsubst line: checked, and with
    every included file in it."""
    certificates = Certificates.create(tmp_path)
    main = render_proxy_config(
        tmp_path,
        {
            "POSTERN_SERVER_NAME": HOST,
            "POSTERN_HTTPS_LISTEN": "127.0.0.1:8443",
            "POSTERN_HTTP_LISTEN": "127.0.0.1:8080",
            "POSTERN_UPSTREAM": "127.0.0.1:8000",
            "POSTERN_PUSH_UPSTREAM": "127.0.0.1:9000",
            "POSTERN_TLS_CERT": str(certificates.cert_file),
            "POSTERN_TLS_KEY": str(certificates.key_file),
            "POSTERN_ACCESS_LOG": str(tmp_path / "access.log"),
        },
        more_upstreams=more,
    )
    checked = subprocess.run(
        [NGINX, "-T", "-c", str(main), "-p", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert checked.returncode == 0, checked.stderr
    return checked.stdout


def _upstream_servers(configuration: str, upstream: str = "postern_app") -> list[str]:
    """The app's servers (those in its block and in the files it includes, which ``nginx -T``
    prints after it), or the push service's (``upstream="postern_push"``)."""
    servers = r"^\s*server (127\.0\.0\.1:\d+);"
    push_block = re.search(r"upstream postern_push \{(.*?)\}", configuration, re.S)[1]
    push = re.findall(servers, push_block, re.M)
    if upstream == "postern_push":
        return push
    return [server for server in re.findall(servers, configuration, re.M) if server not in push]


def test_the_readme_rendering_serves_one_instance(tmp_path):
    configuration = _effective_configuration(tmp_path, ())
    assert _upstream_servers(configuration) == ["127.0.0.1:8000"]
    assert not list((tmp_path / MORE_UPSTREAMS).glob("*.conf"))


def test_further_instances_are_one_file_each(tmp_path):
    configuration = _effective_configuration(tmp_path, ("127.0.0.1:8001", "127.0.0.1:8002"))
    assert _upstream_servers(configuration) == [
        "127.0.0.1:8000",
        "127.0.0.1:8001",
        "127.0.0.1:8002",
    ]


def test_the_template_adds_no_header_and_never_repeats_a_post():
    template = PROXY_TEMPLATE.read_text()
    lines = [line.strip() for line in template.splitlines() if not line.lstrip().startswith("#")]
    assert not [line for line in lines if line.startswith("add_header")]
    assert "proxy_next_upstream error timeout;" in lines  # never non_idempotent


def test_the_live_stream_goes_to_the_push_service_unbuffered(tmp_path):
    """The agent console's stream (docs/scaling.md): its own upstream, each event passed on as
    it is written, and a read timeout longer than the push service's keep-alive comments."""
    configuration = _effective_configuration(tmp_path, ())
    assert _upstream_servers(configuration, "postern_push") == ["127.0.0.1:9000"]
    location = re.search(r"location = /agent/api/stream \{(.*?)\}", configuration, re.S)[1]
    assert "proxy_pass http://postern_push;" in location
    assert "proxy_buffering off;" in location
    assert int(re.search(r"proxy_read_timeout (\d+)s;", location)[1]) > 15

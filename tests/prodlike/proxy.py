"""The production-like stack's TLS proxy: nginx running the shipped site template, filled in by
the README's own envsubst line, in front of one or more app instances.

The one addition of the test rendering (listed in ``DIFFERS_FROM_DEPLOYED``): every answer
carries ``X-Upstream``, the address of the instance that served it (nginx's ``$upstream_addr``:
two, comma-separated, when nginx moved a request on from a failed one), so tests can count
answers per instance. It is set in the main configuration's ``http`` block, which the site
inherits because the template adds no header of its own; nothing in the template changes.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
PROXY_TEMPLATE = ROOT / "config" / "nginx" / "postern.conf.template"
#: How the README fills in the proxy's site template (bash, with the POSTERN_* values exported).
ENVSUBST = """envsubst "$(printf '${%s} ' ${!POSTERN_*})" < config/nginx/postern.conf.template"""


#: The response header naming the instance that answered (test rendering only).
UPSTREAM_HEADER = "X-Upstream"
#: Where the template includes further instances from, relative to nginx.conf's directory.
MORE_UPSTREAMS = "postern-upstreams.d"


def render_proxy_config(
    directory: Path, values: dict[str, str], more_upstreams: tuple[str, ...] = ()
) -> Path:
    """The shipped site template filled in by the README's own envsubst line, inside a main
    configuration that keeps nginx's files in ``directory``. ``values["POSTERN_UPSTREAM"]`` is
    the first instance; each of ``more_upstreams`` (``host:port``) is another, written where the
    template includes them from, as an operator adds one."""
    site = directory / "postern.conf"
    extra = directory / MORE_UPSTREAMS
    extra.mkdir(exist_ok=True)
    for number, address in enumerate(more_upstreams, start=2):
        (extra / f"instance-{number}.conf").write_text(f"server {address};\n")
    rendered = subprocess.run(
        ["bash", "-c", ENVSUBST],
        cwd=ROOT,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **values},
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout
    unfilled = [
        line for line in rendered.splitlines() if "${" in line and not line.lstrip().startswith("#")
    ]
    if unfilled:
        raise AssertionError(f"proxy template values not given: {unfilled}")
    site.write_text(rendered)
    main = directory / "nginx.conf"
    user = "user root root;\n" if os.geteuid() == 0 else ""
    temp = "\n".join(
        f"    {kind}_temp_path {directory / kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    main.write_text(
        f"{user}worker_processes 1;\ndaemon off;\npid {directory / 'nginx.pid'};\n"
        f"error_log {values['POSTERN_ACCESS_LOG'].rsplit('/', 1)[0]}/nginx-error.log warn;\n"
        "events { worker_connections 512; }\n"
        f"http {{\n{temp}\n"
        f"    add_header {UPSTREAM_HEADER} $upstream_addr always;\n"
        f"    include {site};\n}}\n"
    )
    return main

"""A real OpenID Provider for the single sign-on tests: panva's certified ``oidc-provider``
(tests/oidc/provider.mjs) on a free loopback port, one per test.

Its state is two JSON files the provider reads again on every use, so a test changes them
between sign-ins: ``users.json`` (people, their passwords, groups and amr/acr) and
``clients.json`` (Postern as a client, registered once the live portal's port is known).

``npm ci`` installs the provider from tests/oidc/package-lock.json the first time it is needed
(scripts/test.sh also runs it before the suite); a file lock keeps two xdist workers from
installing at once.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.web import csrf_from

OIDC_DIR = Path(__file__).resolve().parents[1] / "oidc"
CLIENT_ID = "postern-test"
CLIENT_SECRET = "test-client-secret-for-the-loopback-provider"
#: The groups the tests' mapping table knows, in its priority order.
MAPPING = [
    {"group": "postern-admins", "role": "admin", "team": None},
    {"group": "postern-backoffice", "role": "backoffice", "team": None},
    {"group": "postern-supervisors", "role": "supervisor", "team": "North"},
    {"group": "postern-agents", "role": "agent", "team": "North"},
    {"group": "postern-auditors", "role": "auditor", "team": None},
]
#: The group that grants each role in MAPPING.
GROUP_FOR_ROLE = {rule["role"]: rule["group"] for rule in MAPPING}
#: A start takes under a second; this allows for a loaded two-core CI machine. (Starts that once
#: hung for good were Node's key generation deadlocking: the key is now made here, see
#: ``signing_jwk``.)
_START_TIMEOUT_SECONDS = 60


def ensure_installed() -> None:
    """``npm ci`` in tests/oidc unless node_modules matches the lock file already."""
    node_modules = OIDC_DIR / "node_modules"
    marker = node_modules / ".package-lock.json"  # npm writes it after a complete install
    lock_path = Path(tempfile.gettempdir()) / "postern-oidc-install.lock"
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        lockfile = OIDC_DIR / "package-lock.json"
        if marker.exists() and marker.stat().st_mtime >= lockfile.stat().st_mtime:
            return
        npm = shutil.which("npm")
        if npm is None:
            raise RuntimeError("the single sign-on tests need Node.js 20 and npm on PATH")
        subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=OIDC_DIR,
            check=True,
            timeout=300,
        )


@dataclass
class OpenIdProvider:
    issuer: str
    state_dir: Path
    process: subprocess.Popen
    log: list[str] = field(default_factory=list)

    def set_users(self, users: dict[str, dict]) -> None:
        """``{"alice": {"sub", "password", "email", "name", "groups", "amr", "acr"}}``, and
        ``auth_age`` (seconds) to make the provider report an old ``auth_time``."""
        for username, user in users.items():
            user.setdefault("username", username)
        _write_json(self.state_dir / "users.json", users)

    def users(self) -> dict[str, dict]:
        return json.loads((self.state_dir / "users.json").read_text())

    def update_user(self, username: str, **changes) -> None:
        users = self.users()
        users[username].update(changes)
        _write_json(self.state_dir / "users.json", users)

    def register_portal(self, portal_url: str, provider_name: str = "testidp") -> None:
        """Register Postern (at ``portal_url``) as this provider's client."""
        base = f"{portal_url}/sso/{provider_name}"
        client = {
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "redirect_uris": [f"{base}/callback"],
            "response_types": ["code"],
            "grant_types": ["authorization_code"],
            "token_endpoint_auth_method": "client_secret_basic",
            "backchannel_logout_uri": f"{base}/backchannel-logout",
            "backchannel_logout_session_required": True,
            "post_logout_redirect_uris": [f"{portal_url}/login"],
        }
        _write_json(self.state_dir / "clients.json", [client])

    def provider_setting(self, name: str = "testidp", **extra) -> dict:
        """This provider as one entry of POSTERN_SSO_PROVIDERS."""
        return {
            "name": name,
            "label": "Sign in with Test ID",
            "issuer": self.issuer,
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "scopes": "openid email profile groups",
            "groups_claim": "groups",
            "mfa_amr": ["mfa", "otp", "hwk"],
            "mapping": MAPPING,
            **extra,
        }


def sign_in_with_client(client, provider: OpenIdProvider, username: str, name: str = "testidp"):
    """Sign in to the portal behind Flask's test ``client`` through ``provider``, as a browser
    would: the portal's start page, the provider's login form (by HTTP, with ``requests``),
    then the portal's callback with what the provider sent back. Returns the callback's
    answer. The portal must be registered as ``http://localhost``."""
    return client.get(callback_from_provider(client, provider, username, name))


def start_at_portal(client, name: str = "testidp") -> str:
    """Press the provider's button on the sign-in page; returns the provider's address."""
    token = csrf_from(client.get("/login").get_data(as_text=True))
    started = client.post(f"/sso/{name}/start", data={"csrf_token": token})
    assert started.status_code == 302, started.status_code
    return started.headers["Location"]


def callback_from_provider(
    client, provider: OpenIdProvider, username: str, name: str = "testidp"
) -> str:
    """Start a sign-in and sign in at the provider; returns the callback path (with its code,
    state and iss) the provider sends the browser to, not yet visited."""
    return through_provider(provider, start_at_portal(client, name), username)


def through_provider(provider: OpenIdProvider, location: str, username: str) -> str:
    """Follow the provider from ``location`` (its authorisation address), signing in as
    ``username`` when it asks; returns the portal path it sends the browser back to."""
    import requests

    password = provider.users()[username]["password"]
    with requests.Session() as browser:
        for _ in range(10):
            if location.startswith("http://localhost/"):
                return location.removeprefix("http://localhost")
            answer = browser.get(location, allow_redirects=False, timeout=10)
            if answer.status_code == 200 and 'name="password"' in answer.text:
                action = answer.text.split('action="', 1)[1].split('"', 1)[0]
                answer = browser.post(
                    provider.issuer + action,
                    data={"username": username, "password": password},
                    allow_redirects=False,
                    timeout=10,
                )
            assert answer.status_code in (302, 303), (answer.status_code, answer.text[:300])
            location = requests.compat.urljoin(answer.url, answer.headers["Location"])
    raise AssertionError("the provider never sent the browser back to the portal")


def _write_json(path: Path, value) -> None:
    # Whole-file replace: the provider never reads a half-written file.
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps(value))
    os.replace(partial, path)


@contextmanager
def running_provider(state_dir: Path, **env: str) -> Iterator[OpenIdProvider]:
    """The provider, with ``env`` added to its environment (``OIDC_TLS_CERT`` and
    ``OIDC_TLS_KEY`` for HTTPS, ``NODE_EXTRA_CA_CERTS`` to trust the portal's CA,
    ``OIDC_SIGNING_JWK`` for a key the test knows; otherwise one is made for this start)."""
    ensure_installed()
    if "OIDC_SIGNING_JWK" not in env:
        env["OIDC_SIGNING_JWK"] = signing_jwk()
    state_dir.mkdir(parents=True, exist_ok=True)
    _write_json(state_dir / "users.json", {})
    _write_json(state_dir / "clients.json", [])
    process = subprocess.Popen(
        ["node", str(OIDC_DIR / "provider.mjs")],
        cwd=OIDC_DIR,
        env={**os.environ, "OIDC_STATE_DIR": str(state_dir), "NODE_NO_WARNINGS": "1", **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    log: list[str] = []
    issuer = _read_issuer(process, log)
    provider = OpenIdProvider(issuer, state_dir, process, log)
    # Keep draining its output (back-channel errors, server errors) so it never blocks.
    threading.Thread(target=_drain, args=(process, log), daemon=True).start()
    try:
        yield provider
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def signing_jwk() -> str:
    """A new private RSA signing key as a JWK, for one provider's lifetime. Made here rather
    than by the provider: Node 20 deadlocks, now and then, exporting a key it has just
    generated as a JWK (a garbage collection frees the generation job, whose destructor waits
    for the lock the export holds), and the provider then never listens."""
    from joserfc.jwk import RSAKey

    return json.dumps(RSAKey.generate_key(2048).as_dict(private=True))


def _read_issuer(process: subprocess.Popen, log: list[str]) -> str:
    """The issuer from the provider's first JSON line; fails if it exits or takes too long."""
    found: dict[str, str] = {}

    def read() -> None:
        for line in process.stdout:
            log.append(line.rstrip())
            if line.startswith("{"):
                found["issuer"] = json.loads(line)["issuer"]
                return

    started = time.monotonic()
    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(timeout=_START_TIMEOUT_SECONDS)
    if "issuer" not in found:
        exit_code = process.poll()
        process.kill()
        state = "still running" if exit_code is None else f"exited with {exit_code}"
        raise RuntimeError(
            f"the OpenID Provider did not start: {state} after "
            f"{time.monotonic() - started:.1f} s; its output:\n" + "\n".join(log)
        )
    return found["issuer"]


def _drain(process: subprocess.Popen, log: list[str]) -> None:
    for line in process.stdout:
        log.append(line.rstrip())

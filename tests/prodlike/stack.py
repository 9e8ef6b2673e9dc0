"""Postern as it is deployed, on one machine, started and stopped by one call.

Every part is the real one, configured as the README's production section tells operators:

- nginx from Debian terminates TLS, running ``config/nginx/postern.conf.template`` rendered the
  way the README says (``${...}`` filled in), in front of
- gunicorn with ``config/gunicorn.conf.py`` serving ``wsgi:app`` with ``POSTERN_ENV=production``
  and secrets generated for this run; ``POSTERN_PROXY_HOPS=1``; two instances by default (each
  its own gunicorn master on its own port, same settings and secrets), which nginx balances
  round robin, so every journey on the stack runs across both (docs/scaling.md);
- PostgreSQL: a database of its own (migrated with ``flask db upgrade``) on the server at
  ``PRODLIKE_POSTGRES_URL`` (default: the local one), or on a private cluster a test passes;
  the key store (wrapped data keys) on a private PostgreSQL server of its own, as production
  requires;
- Redis rate limits (``redis://127.0.0.1:6379/0``, a key prefix of the run's own);
- the outbox and webhook workers (``flask outbox work``, ``flask webhooks work``) and the audit
  sealer (``flask audit seal``: production seals audit rows in a worker, not at each commit);
- the Stripe sandbox on an HTTPS origin of its own, signing webhooks to the proxy;
- a real SMTP server (aiosmtpd) that keeps what it is sent;
- a certificate authority made for the run (trustme): Python clients trust it by file, Chromium
  by the server certificate's SPKI pin (``chromium_args``).

Optionally gunicorn also serves TLS itself with no proxy (``start_direct_tls``), the other way
the README allows. Everything listens on 127.0.0.1 on free ports, logs to
``tests/_artifacts/prodlike/<run>/`` (scanned for card numbers at the end of the suite) and
stops with ``stop()``. What differs from a real deployment is listed in ``DIFFERS_FROM_DEPLOYED``.

The instances are services named ``gunicorn`` (the README's one) and ``gunicorn-2``, ...;
through nginx each answer names its instance in ``X-Upstream`` (``Stack.instance_of``).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pyotp
import redis
import requests
from aiosmtpd.controller import Controller

from tests.prodlike.certificates import HOST, SANDBOX_HOST, Certificates
from tests.prodlike.environment import REDIS_URL, Environment, StripeKeys, production_environment
from tests.prodlike.mailbox import Mailbox
from tests.prodlike.proxy import NGINX, UPSTREAM_HEADER, render_proxy_config
from tests.support.artifacts import ARTIFACTS
from tests.support.database import dispose_engines
from tests.support.loopback import free_port, wait_until
from tests.support.private_postgres import private_postgres

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
ADMIN_DATABASE_URL = os.environ.get("PRODLIKE_POSTGRES_URL", "postgresql://127.0.0.1:5432/postgres")
LOG_ROOT = ARTIFACTS / "prodlike"

#: The commands the README's production section gives operators, run here as given
#: (tests/prodlike/test_readme_production.py holds the README to them).
MIGRATE = ("flask", "db", "upgrade")
GUNICORN = ("gunicorn", "-c", "config/gunicorn.conf.py", "wsgi:app")
#: The push service (the agent console's live stream), beside the app's gunicorn.
PUSH = ("gunicorn", "-c", "config/gunicorn-push.conf.py", "wsgi:app")
WORKERS = {
    "outbox": ("flask", "outbox", "work"),
    "webhooks": ("flask", "webhooks", "work"),
    "hooks": ("flask", "hooks", "work"),
    "audit": ("flask", "audit", "seal"),
}
#: App instances a stack runs unless its caller asks otherwise: two, so that every journey on
#: the stack proves that nothing needs a sticky session.
INSTANCES = 2

#: Where this stack differs from a real deployment, and why. Nothing else does: the settings
#: are production's own (``POSTERN_ENV=production``), validated as production validates them.
DIFFERS_FROM_DEPLOYED: dict[str, str] = {
    "Stripe": "the offline sandbox, over HTTPS on its own origin, instead of api.stripe.com",
    "STRIPE_CA_BUNDLE": "the run's own CA signed the sandbox's certificate",
    "certificates": "a CA made for the run; Chromium trusts the server certificate's key",
    "ports": "free loopback ports instead of 443 and 80",
    "SMTP": "a local aiosmtpd server without TLS (production allows that for a relay on the "
    "same host only)",
    "SMS": "switched off ('disabled', which production accepts): no Twilio account here",
    "POSTERN_WORKERS": "2 gunicorn workers of 4 threads per instance on a 2-core machine",
    "POSTERN_PUSH_THREADS": "one push-service worker of 64 threads (streams) on a 2-core "
    "machine, instead of two of 1000",
    "instances": "the app instances run on one host, each on its own loopback port (a "
    "deployment puts them on separate hosts)",
    "X-Upstream": "the test rendering of the proxy adds a response header naming the instance "
    "that answered, so tests can count per instance; the shipped template adds none",
    "rate limits": "the same limits, but the tests clear the run's Redis keys before each test: "
    "every browser in a test shares 127.0.0.1, so one test's sign-ins would count against the "
    "next",
}


# --- the database ----------------------------------------------------------------------------


def _plain(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


def create_database(admin_url: str, name: str | None = None) -> str:
    """Create an empty database (``name``, or a new one's) on the server at ``admin_url``;
    returns its URL."""
    name = name or "postern_prodlike_" + secrets.token_hex(4)
    with psycopg.connect(_plain(admin_url), autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    return _plain(admin_url).rsplit("/", 1)[0] + "/" + name


def drop_database(admin_url: str, url: str) -> None:
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(_plain(admin_url), autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# --- processes -------------------------------------------------------------------------------


@dataclass
class Service:
    name: str
    process: subprocess.Popen
    log: Path
    stop_signal: signal.Signals = signal.SIGTERM
    #: The variables it was started with beyond the stack's own (a gunicorn's bind address).
    env: dict[str, str] = field(default_factory=dict)

    def stop(self, timeout: float = 20) -> None:
        if self.process.poll() is not None:
            return
        self.process.send_signal(self.stop_signal)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)

    def alive(self) -> bool:
        return self.process.poll() is None

    def children(self) -> list[int]:
        """Process ids of its children (gunicorn's workers)."""
        path = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [int(pid) for pid in path.read_text().split()]

    def tail(self, characters: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-characters:] if self.log.exists() else ""

    def kill(self) -> None:
        """SIGKILL the process and its children at once, as a host or container dies: no
        request in flight is finished, nothing is cleaned up."""
        if not self.alive():
            return
        victims = [*self.children(), self.process.pid]
        for pid in victims:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.process.wait(timeout=10)


@dataclass
class Stack:
    """A running production-like Postern. Build with :func:`start_stack`."""

    url: str  # https://localhost:<port>, through nginx
    http_url: str  # http://localhost:<port>, nginx's plain-HTTP listener (probes)
    gunicorn_url: str  # http://127.0.0.1:<port>, the first gunicorn behind the proxy
    database_url: str
    key_store_url: str  # the data keys' database, on a private server of its own
    environment: Environment
    certificates: Certificates
    mailbox: Mailbox
    sandbox: Any  # stripe_sandbox.runner.SandboxServer
    directory: Path
    log_dir: Path
    services: dict[str, Service] = field(default_factory=dict)
    direct_url: str | None = None
    #: The app instances behind nginx: service name -> its ``host:port``, first one first.
    instances: dict[str, str] = field(default_factory=dict)
    #: The push service's ``host:port`` (``start_push``).
    push_address: str = ""
    #: The loopback port the outbound webhooks' allow-list names: a test's HTTPS receiver
    #: listens there with ``certificates.server_context()`` (the stack's CA is trusted).
    hooks_receiver_port: int = 0
    _admin_url: str | None = None
    _smtp: Controller | None = None
    _key_server: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)
    _app: Any = None

    @property
    def settings(self) -> dict[str, Any]:
        return self.environment.settings

    def instance_of(self, answer: requests.Response) -> str:
        """The service name of the instance that served ``answer`` through nginx: the last one
        it tried (``X-Upstream``). KeyError if nginx named none (it answered itself)."""
        tried = answer.headers[UPSTREAM_HEADER].split(",")
        by_address = {address: name for name, address in self.instances.items()}
        return by_address[tried[-1].strip()]

    def kill_instance(self, name: str) -> None:
        """SIGKILL one app instance, master and workers together, with requests in flight."""
        self.services[name].kill()

    def start_instance(self, name: str) -> Service:
        """Start a stopped or killed instance again, as it was; returns once it is ready."""
        service = self.restart(name)
        _wait_ready(_loopback(), f"http://{self.instances[name]}", service)
        return service

    def app(self):
        """An app built in this process with the served apps' configuration: for seeding staff
        and reading the database. It serves nothing."""
        if self._app is None:
            from portal import create_app

            # No key prefix: Flask-Limiter is one object per process and would keep this app's
            # prefix for every app the test process builds after it.
            self._app = create_app("production", {**self.settings, "RATELIMIT_KEY_PREFIX": ""})
        return self._app

    def add_staff(
        self,
        role: str,
        username: str,
        password: str,
        *,
        mfa: bool | None = None,
        team: str | None = None,
    ) -> str | None:
        """A staff account in the stack's database, as ``flask users create`` makes one, with
        an authenticator already enrolled when ``mfa``; returns its TOTP secret (or None).
        ``mfa`` defaults to what production requires of the role (agents included, as
        AGENT_MFA_REQUIRED is on in production)."""
        from portal.cli import create_staff
        from portal.extensions import db
        from portal.security.authz import mfa_required

        with self.app().app_context():
            if mfa is None:
                mfa = mfa_required(role)
            user = create_staff(username, password, role, team=team)
            secret = None
            if mfa:
                secret = user.totp_secret = pyotp.random_base32()
                user.mfa_enabled = True
            db.session.commit()
            return secret

    def https(self) -> requests.Session:
        """A requests session that trusts the run's CA (and nothing else). It ignores the
        environment: REQUESTS_CA_BUNDLE would otherwise replace the CA, and a proxy setting
        would send loopback traffic away."""
        session = requests.Session()
        session.trust_env = False
        session.verify = str(self.certificates.ca_file)
        return session

    def flask(self, *arguments: str, timeout: float = 120) -> subprocess.CompletedProcess:
        """Run a ``flask`` command as an operator would, with the stack's environment."""
        return subprocess.run(
            [str(BIN / "flask"), *arguments],
            cwd=ROOT,
            env=self._process_env(),
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def clear_rate_limits(self) -> None:
        """Forget every rate-limit count of this run (see DIFFERS_FROM_DEPLOYED)."""
        client = redis.Redis.from_url(REDIS_URL)
        prefix = self.settings["RATELIMIT_KEY_PREFIX"]
        for key in client.scan_iter(match=f"*{prefix}*", count=500):
            client.delete(key)
        client.close()

    # -- starting and stopping parts --

    def _process_env(self, **extra: str) -> dict[str, str]:
        keep = {
            name: value
            for name, value in os.environ.items()
            if not name.startswith(("POSTERN_", "STRIPE_", "SMTP_", "TWILIO_"))
            and name not in ("DATABASE_URL", "TEST_DATABASE_URL", "FLASK_APP")
        }
        return {
            **keep,
            **self.environment.variables,
            "FLASK_APP": "wsgi:app",
            "PYTHONPATH": str(ROOT),
            **extra,
        }

    def spawn(
        self, name: str, command: list[str], *, stop_signal=signal.SIGTERM, **env: str
    ) -> Service:
        log = self.log_dir / f"{name}.log"
        handle = log.open("a")
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=self._process_env(**env),
            stdout=handle,
            stderr=subprocess.STDOUT,
        )
        handle.close()  # the child has its own copy
        service = Service(name, process, log, stop_signal, env)
        self.services[name] = service
        return service

    def start_gunicorn(self, name: str, bind: str, **env: str) -> Service:
        return self.spawn(
            name,
            [str(BIN / GUNICORN[0]), *GUNICORN[1:]],
            POSTERN_BIND=bind,
            POSTERN_WORKERS=env.pop("POSTERN_WORKERS", "2"),
            POSTERN_THREADS=env.pop("POSTERN_THREADS", "4"),
            **env,
        )

    def start_push(self, bind: str) -> Service:
        """The push service (``config/gunicorn-push.conf.py``), which nginx sends the agent
        console's stream to."""
        return self.spawn(
            "gunicorn-push",
            [str(BIN / PUSH[0]), *PUSH[1:]],
            POSTERN_PUSH_BIND=bind,
            POSTERN_PUSH_WORKERS="1",
            POSTERN_PUSH_THREADS="64",
        )

    def start_worker(self, kind: str) -> Service:
        """``flask outbox work``, ``flask webhooks work``, ``flask hooks work`` or ``flask audit
        seal``: a service beside gunicorn."""
        command = WORKERS[kind]
        return self.spawn(f"{kind}-worker", [str(BIN / command[0]), *command[1:]])

    def restart(self, name: str) -> Service:
        """Start a stopped (or killed) service again with the command and variables it had."""
        old = self.services[name]
        old.stop()
        return self.spawn(name, list(old.process.args), stop_signal=old.stop_signal, **old.env)

    def start_direct_tls(self) -> str:
        """gunicorn serving TLS itself, no proxy in front (POSTERN_PROXY_HOPS=0), on the same
        database; returns its https:// URL."""
        port = self._direct_port
        service = self.start_gunicorn(
            "gunicorn-direct-tls",
            f"127.0.0.1:{port}",
            POSTERN_PROXY_HOPS="0",
            POSTERN_TLS_CERT=str(self.certificates.cert_file),
            POSTERN_TLS_KEY=str(self.certificates.key_file),
            POSTERN_WORKERS="1",
        )
        self.direct_url = f"https://{HOST}:{port}"
        _wait_ready(self.https(), self.direct_url, service)
        return self.direct_url

    def stop(self) -> None:
        for service in reversed(list(self.services.values())):
            with contextlib.suppress(Exception):
                service.stop()
        if self._smtp is not None:
            with contextlib.suppress(Exception):
                self._smtp.stop()
        with contextlib.suppress(Exception):
            self.sandbox.stop()
        if self._app is not None:
            from portal.extensions import db

            with self._app.app_context():
                dispose_engines(db)
        with contextlib.suppress(Exception):
            self.clear_rate_limits()
        with contextlib.suppress(Exception):
            self._key_server.close()
        if self._admin_url:
            with contextlib.suppress(Exception):
                drop_database(self._admin_url, self.database_url)
        shutil.rmtree(self.directory, ignore_errors=True)

    _direct_port: int = 0


def _loopback() -> requests.Session:
    """A plain-HTTP session for loopback addresses that no proxy setting sends elsewhere."""
    session = requests.Session()
    session.trust_env = False
    return session


def _wait_ready(session: requests.Session, base: str, service: Service, timeout: float = 60):
    last = ["no answer yet"]

    def ready():
        if not service.alive():
            raise AssertionError(f"{service.name} exited early:\n{service.tail()}")
        try:
            answer = session.get(base + "/readyz", timeout=5, allow_redirects=False)
        except requests.RequestException as problem:  # not listening yet
            last[0] = repr(problem)
            return False
        last[0] = f"{answer.status_code} {answer.text[:200]}"
        return answer.status_code == 200

    try:
        wait_until(ready, timeout, f"{service.name} at {base}/readyz")
    except AssertionError as problem:
        raise AssertionError(f"{problem}; last: {last[0]}\n{service.tail()}") from None


def start_stack(
    *,
    database_url: str | None = None,
    name: str | None = None,
    certificates: Certificates | None = None,
    extra_env: dict[str, str] | None = None,
    instances: int = INSTANCES,
) -> Stack:
    """Start everything; returns once the app answers /readyz through the proxy. On any
    failure, whatever was started is stopped again before the error propagates.

    ``database_url``: an empty database to migrate and use (default: a new one on the server
    at PRODLIKE_POSTGRES_URL, dropped by ``stop()``). ``name``: names the log folder (its old
    logs are removed). ``certificates``: the CA and server certificate (default: new ones).
    ``extra_env``: more variables for every process, e.g. a load test's higher rate limits
    (each a deliberate difference from the deployed settings, named by the test).
    ``instances``: how many app instances nginx balances (INSTANCES unless a test needs one)."""
    from stripe_sandbox.runner import start_sandbox

    run = name or secrets.token_hex(3)
    directory = Path(tempfile.mkdtemp(prefix=f"postern-prodlike-{run}-"))
    log_dir = LOG_ROOT / run
    shutil.rmtree(log_dir, ignore_errors=True)
    log_dir.mkdir(parents=True)
    certificates = certificates or Certificates.create(directory)
    https_port, http_port, direct_port, smtp_port, hooks_port, push_port = (
        free_port() for _ in range(6)
    )
    app_ports = [free_port() for _ in range(instances)]
    public_url = f"https://{HOST}:{https_port}"
    admin_url = None
    if database_url is None:
        admin_url = ADMIN_DATABASE_URL
        database_url = create_database(admin_url)
    # The key store on a PostgreSQL server of its own, as production requires: a backup of the
    # main database's server must not hold the keys that erasure destroys.
    key_server = contextlib.ExitStack()
    key_store_url = key_server.enter_context(private_postgres()).url
    mailbox = Mailbox()
    smtp = Controller(mailbox, hostname="127.0.0.1", port=smtp_port)
    smtp.start()
    stripe_keys = StripeKeys()
    sandbox = None
    stack = None
    try:
        sandbox = start_sandbox(
            SANDBOX_HOST,
            0,
            ssl_context=certificates.server_context(),
            secret_key=stripe_keys.secret_key,
            publishable_key=stripe_keys.publishable_key,
            webhook_url=public_url + "/webhooks/stripe",
            webhook_secret=stripe_keys.webhook_secret,
            webhook_ca_file=str(certificates.ca_file),
            allowed_frame_ancestors=(public_url, f"https://{HOST}:{direct_port}"),
        )
        environment = production_environment(
            database_url=database_url,
            key_store_url=key_store_url,
            public_url=public_url,
            sandbox_url=sandbox.url,
            certificates=certificates,
            smtp_port=smtp_port,
            rate_limit_prefix=f"postern-prodlike-{run}",
            stripe_keys=stripe_keys,
            hooks_receiver=f"127.0.0.1:{hooks_port}",
        )
        for variable, value in (extra_env or {}).items():
            environment.put(variable, None, value)
        stack = Stack(
            url=public_url,
            http_url=f"http://{HOST}:{http_port}",
            gunicorn_url=f"http://127.0.0.1:{app_ports[0]}",
            database_url=database_url,
            key_store_url=key_store_url,
            environment=environment,
            certificates=certificates,
            mailbox=mailbox,
            sandbox=sandbox,
            directory=directory,
            log_dir=log_dir,
            _admin_url=admin_url,
            _smtp=smtp,
            _key_server=key_server,
        )
        stack._direct_port = direct_port
        stack.hooks_receiver_port = hooks_port
        migrated = stack.flask(*MIGRATE[1:])
        if migrated.returncode != 0:
            raise AssertionError(f"flask db upgrade failed:\n{migrated.stdout}{migrated.stderr}")
        for number, port in enumerate(app_ports, start=1):
            name = "gunicorn" if number == 1 else f"gunicorn-{number}"
            stack.instances[name] = f"127.0.0.1:{port}"
            stack.start_gunicorn(name, stack.instances[name])
        stack.push_address = f"127.0.0.1:{push_port}"
        stack.start_push(stack.push_address)
        first, *more = stack.instances.values()
        proxy_config = render_proxy_config(
            directory,
            {
                "POSTERN_SERVER_NAME": HOST,
                "POSTERN_HTTPS_LISTEN": f"127.0.0.1:{https_port}",
                "POSTERN_HTTP_LISTEN": f"127.0.0.1:{http_port}",
                "POSTERN_UPSTREAM": first,
                "POSTERN_PUSH_UPSTREAM": stack.push_address,
                "POSTERN_TLS_CERT": str(certificates.cert_file),
                "POSTERN_TLS_KEY": str(certificates.key_file),
                "POSTERN_ACCESS_LOG": str(log_dir / "nginx-access.log"),
            },
            more_upstreams=tuple(more),
        )
        checked = subprocess.run(
            [NGINX, "-t", "-q", "-c", str(proxy_config), "-p", str(directory)],
            capture_output=True,
            text=True,
            timeout=30,
        )
        if checked.returncode != 0:
            raise AssertionError(f"nginx refused the configuration:\n{checked.stderr}")
        stack.spawn(
            "nginx",
            [NGINX, "-c", str(proxy_config), "-p", str(directory)],
            stop_signal=signal.SIGQUIT,  # graceful: finish the requests in flight
        )
        stack.start_worker("outbox")
        stack.start_worker("webhooks")
        stack.start_worker("hooks")
        stack.start_worker("audit")
        timeout = float(os.environ.get("PRODLIKE_START_TIMEOUT", 60))
        for name, address in stack.instances.items():
            _wait_ready(_loopback(), f"http://{address}", stack.services[name], timeout)
        push = stack.services["gunicorn-push"]
        _wait_ready(_loopback(), f"http://{stack.push_address}", push, timeout)
        _wait_ready(stack.https(), public_url, stack.services["nginx"], timeout)
        return stack
    except BaseException:
        if stack is not None:
            stack.stop()
        else:
            smtp.stop()
            if sandbox is not None:
                sandbox.stop()
            key_server.close()
            if admin_url:
                drop_database(admin_url, database_url)
            shutil.rmtree(directory, ignore_errors=True)
        raise

"""What a browser receives for the payment page, and how it differs from what it should be.

Knows nothing of Flask. ``take_snapshot`` fetches a page with ``requests`` (as a browser
would: no JavaScript, but every same-origin script fetched and hashed), keeping its security
headers and its scripts. ``drift`` compares a snapshot with the script inventory, a recorded
baseline and a few rules that hold whatever the baseline says; every difference is one line
of plain text naming what changed (PCI DSS 11.6.1: unauthorised changes to the headers and
contents of the payment page, as received by the browser, are detected).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import requests

from config import csp as csp_data
from portal.payment_page.inventory import Inventory
from portal.payment_page.sri import integrity_of

#: Response headers watched for drift; a missing one is recorded as None.
WATCHED_HEADERS = (
    "Content-Security-Policy",
    "Content-Security-Policy-Report-Only",
    "Strict-Transport-Security",
    "Referrer-Policy",
    "X-Content-Type-Options",
    "X-Frame-Options",
    "Permissions-Policy",
    "Cross-Origin-Opener-Policy",
    "Cross-Origin-Resource-Policy",
    "Cache-Control",
    "Reporting-Endpoints",
)
#: What the check sends: a browser's navigation, marked as the integrity check.
BROWSER_HEADERS = {
    "User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Postern-integrity-check/1",
    "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    "Accept-Language": "en-GB,en;q=0.9",
}
SCRIPT_HEADERS = {**BROWSER_HEADERS, "Accept": "*/*", "Sec-Fetch-Dest": "script"}
TIMEOUT_SECONDS = 15
_NONCE = re.compile(r"^'nonce-[^']*'$")
BASELINE_FORMAT = 1


class FetchError(RuntimeError):
    """The page (or one of its scripts) could not be fetched as expected."""


@dataclass
class Script:
    #: Our own files as a path ("/static/js/customer/pay.js"); others as the full URL.
    #: None for an inline script.
    src: str | None
    integrity: str | None = None
    crossorigin: str | None = None
    #: sha384 of what the server sent for it (same-origin files), or of an inline body.
    served_sha384: str | None = None


@dataclass
class Snapshot:
    page: str
    headers: dict[str, str | None]
    scripts: list[Script] = field(default_factory=list)

    @property
    def csp(self) -> dict[str, list[str]]:
        return parse_csp(self.headers.get("Content-Security-Policy"))

    def to_json(self) -> dict:
        return {"format": BASELINE_FORMAT, **asdict(self)}

    @classmethod
    def from_json(cls, data: dict) -> Snapshot:
        if data.get("format") != BASELINE_FORMAT:
            raise ValueError(f"unknown baseline format {data.get('format')!r}")
        scripts = [Script(**script) for script in data["scripts"]]
        return cls(data["page"], dict(data["headers"]), scripts)


def parse_csp(value: str | None) -> dict[str, list[str]]:
    """Directive -> sorted sources, with the per-response nonce written as ``'nonce-*'``."""
    policy: dict[str, list[str]] = {}
    for part in (value or "").split(";"):
        words = part.split()
        if words:
            sources = ["'nonce-*'" if _NONCE.match(word) else word for word in words[1:]]
            policy[words[0].lower()] = sorted(sources)
    return policy


class _ScriptTags(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[dict] = []
        self._inline: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "script":
            self.tags.append({"attrs": dict(attrs), "body": ""})
            self._inline = []

    def handle_data(self, data):
        if self._inline is not None:
            self._inline.append(data)

    def handle_endtag(self, tag):
        if tag == "script" and self._inline is not None:
            self.tags[-1]["body"] = "".join(self._inline)
            self._inline = None


def scripts_in(html: str, page_url: str) -> list[tuple[Script, str | None]]:
    """Each script tag as (Script, absolute URL to fetch or None); inline ones hashed."""
    parser = _ScriptTags()
    parser.feed(html)
    page_origin = _origin(page_url)
    found = []
    for tag in parser.tags:
        attrs = tag["attrs"]
        if not attrs.get("src"):
            body = tag["body"].encode()
            found.append((Script(None, served_sha384=integrity_of(body)), None))
            continue
        absolute = urljoin(page_url, attrs["src"])
        same_origin = _origin(absolute) == page_origin
        parts = urlsplit(absolute)
        src = parts.path + (f"?{parts.query}" if parts.query else "") if same_origin else absolute
        script = Script(src, attrs.get("integrity"), attrs.get("crossorigin"))
        found.append((script, absolute if same_origin else None))
    return found


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def take_snapshot(session: requests.Session, url: str, mask_path: Callable[[str], str]) -> Snapshot:
    """Fetch ``url`` (no redirects followed: the page itself must answer) and every
    same-origin script on it. Raises FetchError."""
    try:
        response = session.get(
            url, headers=BROWSER_HEADERS, allow_redirects=False, timeout=TIMEOUT_SECONDS
        )
    except requests.RequestException as problem:
        raise FetchError(f"could not fetch {url}: {type(problem).__name__}") from None
    if response.status_code != 200:
        where = response.headers.get("Location")
        raise FetchError(
            f"the page answered {response.status_code}"
            + (f" (redirecting to {mask_path(urlsplit(where).path)})" if where else "")
            + ", not the payment page: is the link bound to this check and verified?"
        )
    headers = {name: response.headers.get(name) for name in WATCHED_HEADERS}
    snapshot = Snapshot(mask_path(urlsplit(response.url).path), headers)
    for script, fetch_url in scripts_in(response.text, response.url):
        if fetch_url is not None:
            script.served_sha384 = _fetch_script(session, fetch_url, script.crossorigin)
        snapshot.scripts.append(script)
    return snapshot


def _fetch_script(session: requests.Session, url: str, crossorigin: str | None) -> str:
    headers = dict(SCRIPT_HEADERS)
    if crossorigin is not None:  # a CORS request, as the browser makes for crossorigin=...
        headers["Origin"] = _origin(url)
    try:
        response = session.get(url, headers=headers, allow_redirects=False, timeout=TIMEOUT_SECONDS)
    except requests.RequestException as problem:
        raise FetchError(f"could not fetch script {url}: {type(problem).__name__}") from None
    if response.status_code != 200:
        raise FetchError(f"script {urlsplit(url).path} answered {response.status_code}")
    return integrity_of(response.content)


# --- what counts as drift --------------------------------------------------------------------

#: Sources that must never appear in script-src, whatever the baseline says.
FORBIDDEN_SCRIPT_SOURCES = ("'unsafe-inline'", "'unsafe-eval'", "*", "data:", "http:", "https:")
#: Directive -> the exact sources it must have, whatever the baseline says.
REQUIRED_DIRECTIVES = {
    "default-src": ["'none'"],
    "frame-ancestors": ["'none'"],
    "object-src": ["'none'"],
    "base-uri": ["'none'"],
}


_PERMISSION = re.compile(r"\s*([a-z][a-z0-9-]*)=(\(([^()]*)\)|\*|[a-z]+)\s*$")


def parse_permissions_policy(value: str | None) -> dict[str, list[str]] | None:
    """Feature -> its allowlist (``self`` or quoted origins) from a Permissions-Policy header
    (``payment=(self "https://js.stripe.com"), camera=()``); ``*`` as ``["*"]``. None if a
    part cannot be read, which counts as a breach."""
    policy: dict[str, list[str]] = {}
    for part in (value or "").split(","):
        if not part.strip():
            continue
        match = _PERMISSION.match(part)
        if match is None:
            return None
        feature, whole, inner = match.groups()
        if inner is None:
            policy[feature] = [whole]
        else:
            policy[feature] = [item.strip('"') for item in inner.split()]
    return policy


def permissions_breaches(snapshot: Snapshot) -> list[str]:
    """The payment page may let only itself and the origins its CSP admits as frames (Stripe's)
    use ``payment`` (Apple Pay and Google Pay in Stripe's iframes); every other feature Postern
    switches off must stay off, for everyone."""
    header = snapshot.headers.get("Permissions-Policy")
    policy = parse_permissions_policy(header)
    if not header or policy is None:
        return ["header Permissions-Policy is missing or unreadable"]
    problems = []
    frames = {source for source in snapshot.csp.get("frame-src", []) if "*" not in source}
    for feature, allowed in sorted(policy.items()):
        if feature == "payment":
            stray = [origin for origin in allowed if origin != "self" and origin not in frames]
            if stray:
                problems.append(
                    f"Permissions-Policy lets {', '.join(stray)} use payment: only the page "
                    "and the frames its CSP admits (Stripe) may"
                )
        elif allowed:
            problems.append(f"Permissions-Policy allows {feature} ({' '.join(allowed)})")
    for feature in csp_data.PERMISSIONS_POLICY:
        if feature not in policy:
            problems.append(f"Permissions-Policy no longer switches {feature} off")
    return problems


def rule_breaches(snapshot: Snapshot, https: bool) -> list[str]:
    """What is wrong with the page on its own, without a baseline."""
    csp = snapshot.csp
    problems = []
    if not csp:
        return ["header Content-Security-Policy is missing"]
    for directive, sources in REQUIRED_DIRECTIVES.items():
        if csp.get(directive) != sources:
            problems.append(f"CSP {directive} is {csp.get(directive)}, must be {sources}")
    script_src = csp.get("script-src", [])
    for source in FORBIDDEN_SCRIPT_SOURCES:
        if source in script_src:
            problems.append(f"CSP script-src allows {source}")
    if "'nonce-*'" not in script_src:
        problems.append("CSP script-src has no nonce")
    if snapshot.headers.get("Referrer-Policy") != csp_data.REFERRER_POLICY:
        problems.append(f"header Referrer-Policy is not {csp_data.REFERRER_POLICY}")
    if (snapshot.headers.get("X-Content-Type-Options") or "").lower() != "nosniff":
        problems.append("header X-Content-Type-Options is not nosniff")
    if https and not snapshot.headers.get("Strict-Transport-Security"):
        problems.append("header Strict-Transport-Security is missing")
    if snapshot.headers.get("Content-Security-Policy-Report-Only"):
        problems.append("a Content-Security-Policy-Report-Only header appeared")
    problems += permissions_breaches(snapshot)
    return problems


def inventory_breaches(snapshot: Snapshot, inventory: Inventory) -> list[str]:
    """Scripts on the page that the inventory does not authorise, and the reverse."""
    listed = inventory.by_src()
    problems = []
    for script in snapshot.scripts:
        if script.src is None:
            if script.served_sha384 not in inventory.inline_scripts:
                problems.append(f"inline script not in the inventory ({script.served_sha384})")
            continue
        entry = listed.get(script.src)
        if entry is None:
            problems.append(f"script not in the inventory: {script.src}")
            continue
        if entry.integrity == "sri":
            if not script.integrity:
                problems.append(f"script {script.src} has no integrity attribute")
            elif script.integrity != script.served_sha384:
                problems.append(
                    f"script {script.src}: what the server sends does not match its integrity "
                    f"attribute ({script.served_sha384} != {script.integrity}); browsers will "
                    "refuse it"
                )
            if script.crossorigin != "anonymous":
                problems.append(f"script {script.src} lacks crossorigin=anonymous")
    on_page = {script.src for script in snapshot.scripts}
    for entry in inventory.scripts:
        if entry.src not in on_page:
            problems.append(f"inventory script {entry.id} ({entry.src}) is not on the page")
    return problems


def baseline_differences(snapshot: Snapshot, baseline: Snapshot) -> list[str]:
    """Everything that changed since the baseline was recorded."""
    problems = []
    if snapshot.page != baseline.page:
        problems.append(f"page {snapshot.page} is not the baseline's page {baseline.page}")
    for name in WATCHED_HEADERS:
        if name == "Content-Security-Policy":
            continue
        now, then = snapshot.headers.get(name), baseline.headers.get(name)
        if now != then:
            problems.append(f"header {name} changed: {then!r} -> {now!r}")
    now_csp, then_csp = snapshot.csp, baseline.csp
    for directive in sorted(set(now_csp) | set(then_csp)):
        if directive not in now_csp:
            problems.append(f"CSP directive {directive} was removed")
        elif directive not in then_csp:
            problems.append(f"CSP directive {directive} was added: {now_csp[directive]}")
        else:
            added = sorted(set(now_csp[directive]) - set(then_csp[directive]))
            removed = sorted(set(then_csp[directive]) - set(now_csp[directive]))
            if added:
                problems.append(f"CSP {directive} gained {', '.join(added)}")
            if removed:
                problems.append(f"CSP {directive} lost {', '.join(removed)}")
    before = {script.src: script for script in baseline.scripts if script.src}
    after = {script.src: script for script in snapshot.scripts if script.src}
    for src in sorted(set(after) - set(before)):
        problems.append(f"script added since the baseline: {src}")
    for src in sorted(set(before) - set(after)):
        problems.append(f"script removed since the baseline: {src}")
    for src in sorted(set(before) & set(after)):
        old, new = before[src], after[src]
        if old.served_sha384 != new.served_sha384:
            problems.append(
                f"script {src} changed since the baseline: {old.served_sha384} -> "
                f"{new.served_sha384}"
            )
        if (old.integrity, old.crossorigin) != (new.integrity, new.crossorigin):
            problems.append(
                f"script {src} attributes changed: integrity {old.integrity} -> "
                f"{new.integrity}, crossorigin {old.crossorigin} -> {new.crossorigin}"
            )
    inline_before = sorted(s.served_sha384 for s in baseline.scripts if s.src is None)
    inline_after = sorted(s.served_sha384 for s in snapshot.scripts if s.src is None)
    if inline_before != inline_after:
        problems.append(f"inline scripts changed: {inline_before} -> {inline_after}")
    return problems


def drift(
    snapshot: Snapshot, inventory: Inventory, baseline: Snapshot | None, *, https: bool
) -> list[str]:
    """Every problem found: rules, inventory, then baseline (if there is one)."""
    problems = rule_breaches(snapshot, https) + inventory_breaches(snapshot, inventory)
    if snapshot.page != inventory.page_path:
        problems.append(f"page {snapshot.page} is not the inventory's page {inventory.page_path}")
    if baseline is not None:
        problems += baseline_differences(snapshot, baseline)
    return problems

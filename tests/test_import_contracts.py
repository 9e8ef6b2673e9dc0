"""Import contracts: the architecture of DESIGN.md's "Layout", held by a small ``ast`` walk
(tests/support/import_graph.py).

Every ``import`` in portal/ and config/ counts, including those inside functions (a deferred
import still ties the packages together; it only hides the tie until run time). A "unit" is one
of portal's packages (``portal.capture``) or top-level modules (``portal.cli``).

The rules:

- no cycles among portal's units. The one allowed exception is Flask's blueprint-registration
  idiom: ``portal/__init__.py`` (``create_app``) imports every blueprint and whatever each
  ``init_*`` sets up, and those import ``portal.extensions`` and the services, so the root
  package ``portal`` is kept outside the graph (``package_cycles``);
- portal never imports ``stripe_sandbox`` (the offline stand-in is reached over HTTP only);
- only ``portal/payments/gateway.py`` imports ``stripe``;
- domain units never import a blueprint unit, nor ``flask.request`` or ``flask.g``: reading
  HTTP is the blueprints' job, and what a service needs from the request in flight (who is
  acting, from which client) is passed in as an argument (``portal.security.actors``);
- config/ never imports portal/;
- in tests/, nothing imports a test module (``test_*.py``) or a conftest: what tests share lives
  in tests/support/ (or beside the one directory that uses it), and pytest finds fixtures itself.

Each rule has a twin below that runs the checker on a synthetic package with a violation and
asserts that it is reported.
"""

from __future__ import annotations

import ast
import textwrap
from collections.abc import Iterable
from pathlib import Path

import pytest

from tests.support.import_graph import (
    Import,
    forbidden_imports,
    iter_imports,
    module_name,
    package_cycles,
    unit_of,
    within,
)

PROJECT_ROOT = Path(__file__).resolve().parents[1]

#: The HTTP layer: the blueprint units (views and forms only) ...
BLUEPRINT_UNITS = frozenset(
    {
        "portal.auth",
        "portal.agent",
        "portal.customer",
        "portal.backoffice",
        "portal.webhooks",
        "portal.devtools",
        "portal.csp_reports",
        "portal.api",
    }
)
#: ... and the HTTP infrastructure around them. Every other unit of portal/ is domain code.
HTTP_INFRASTRUCTURE_UNITS = frozenset(
    {"portal", "portal.security", "portal.observability", "portal.errors", "portal.health"}
)

#: The request-scoped globals of Flask that domain code must not read.
REQUEST_GLOBALS = frozenset({"request", "g"})


# -- the checks: each returns what it finds wrong, one line per finding -------------------------


def domain_imports_of_blueprints(imports: Iterable[Import], package: str = "portal") -> list[str]:
    """Imports of a blueprint unit by a domain unit (neither HTTP layer nor infrastructure)."""
    findings = {}
    for imp in imports:
        source, target = unit_of(imp.importer, package), unit_of(imp.target, package)
        if source is None or source in BLUEPRINT_UNITS | HTTP_INFRASTRUCTURE_UNITS:
            continue
        if target in BLUEPRINT_UNITS:
            findings[f"{imp.where}: domain module {imp.importer} imports {imp.target}"] = None
    return list(findings)


def imports_of_tests_or_conftests(imports: Iterable[Import]) -> list[str]:
    """Imports of a test module (``test_*``) or of a conftest module under tests/."""
    findings = {}
    for imp in imports:
        leaf = imp.target.rsplit(".", 1)[-1]
        if within(imp.target, "tests") and (leaf.startswith("test_") or leaf == "conftest"):
            findings[f"{imp.where}: {imp.importer} imports {imp.target}"] = None
    return list(findings)


def request_readers(root: Path, package: str = "portal") -> dict[str, str]:
    """Domain modules that import or use ``flask.request`` or ``flask.g``: path -> first place
    found."""
    found: dict[str, str] = {}
    for path in sorted((root / package).rglob("*.py")):
        relative = path.relative_to(root)
        unit = unit_of(module_name(relative), package)
        if unit in BLUEPRINT_UNITS | HTTP_INFRASTRUCTURE_UNITS:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.ImportFrom)
                and node.module in ("flask", "flask.globals")
                and any(alias.name in REQUEST_GLOBALS for alias in node.names)
            ) or (
                isinstance(node, ast.Attribute)
                and node.attr in REQUEST_GLOBALS
                and isinstance(node.value, ast.Name)
                and node.value.id == "flask"
            ):
                found.setdefault(relative.as_posix(), f"{relative.as_posix()}:{node.lineno}")
    return found


# -- the rules, on the real tree ----------------------------------------------------------------


@pytest.fixture(scope="module")
def project_imports() -> list[Import]:
    return list(iter_imports(PROJECT_ROOT, ("portal", "config")))


def _report(findings: list[str], rule: str) -> str:
    return f"{rule}:\n" + "\n".join(findings)


def test_no_package_cycles_in_portal(project_imports):
    findings = package_cycles(project_imports)
    assert not findings, _report(findings, "packages must import one way only")


def test_portal_never_imports_the_stripe_sandbox(project_imports):
    findings = forbidden_imports(project_imports, "portal", "stripe_sandbox")
    findings += forbidden_imports(project_imports, "config", "stripe_sandbox")
    assert not findings, _report(findings, "the Stripe sandbox is reached over HTTP only")


def test_only_the_payments_gateway_imports_stripe(project_imports):
    only = ["portal/payments/gateway.py"]
    findings = forbidden_imports(project_imports, "portal", "stripe", allowed=only)
    findings += forbidden_imports(project_imports, "config", "stripe")
    assert not findings, _report(findings, "Stripe is called through portal.payments.gateway")


def test_domain_packages_never_import_blueprint_packages(project_imports):
    findings = domain_imports_of_blueprints(project_imports)
    assert not findings, _report(findings, "domain code must not depend on the HTTP layer")


def test_domain_packages_never_read_the_request_or_g():
    found = sorted(request_readers(PROJECT_ROOT).values())
    assert not found, _report(
        found, "domain code must take what it needs as arguments, not from request or g"
    )


def test_config_never_imports_portal(project_imports):
    findings = forbidden_imports(project_imports, "config", "portal")
    assert not findings, _report(findings, "config/ is read by portal/, never the reverse")


def test_tests_never_import_test_modules_or_conftests():
    findings = imports_of_tests_or_conftests(iter_imports(PROJECT_ROOT, ["tests"]))
    assert not findings, _report(
        findings, "shared test helpers live in tests/support/; fixtures are found by pytest"
    )


# -- each rule reports a violation: the checker on synthetic packages -----------------------------


def _tree(root: Path, files: dict[str, str]) -> Path:
    for name, source in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source), encoding="utf-8")
    return root


def test_checker_reports_a_cycle_even_through_an_import_inside_a_function(tmp_path):
    root = _tree(
        tmp_path,
        {
            "portal/__init__.py": "from portal.a import views\n",
            "portal/a/__init__.py": "",
            "portal/a/views.py": "from portal.b.service import run\n",
            "portal/b/__init__.py": "",
            "portal/b/service.py": "def run():\n    from ..a import views\n",
            "portal/c.py": "from portal import a\n",
        },
    )
    findings = package_cycles(iter_imports(root, ["portal"]))
    assert len(findings) == 1
    assert "portal.a, portal.b" in findings[0]
    assert "portal/a/views.py:1" in findings[0]
    assert "portal/b/service.py:2" in findings[0]


def test_checker_leaves_the_root_package_out_of_the_graph(tmp_path):
    root = _tree(
        tmp_path,
        {
            "portal/__init__.py": "from portal.a import views\n",
            "portal/a/__init__.py": "",
            "portal/a/views.py": "import portal\nfrom portal import extensions\n",
            "portal/extensions.py": "",
        },
    )
    assert package_cycles(iter_imports(root, ["portal"])) == []


def test_checker_reports_forbidden_imports(tmp_path):
    root = _tree(
        tmp_path,
        {
            "portal/__init__.py": "",
            "portal/payments/__init__.py": "",
            "portal/payments/gateway.py": "import stripe\n",
            "portal/refunds/__init__.py": "",
            "portal/refunds/service.py": "from stripe import Refund\nimport stripe_sandbox.app\n",
            "config/__init__.py": "",
            "config/settings.py": "def f():\n    from portal.x import y\n",
        },
    )
    imports = list(iter_imports(root, ["portal", "config"]))
    only = ["portal/payments/gateway.py"]
    assert forbidden_imports(imports, "portal", "stripe", allowed=only) == [
        "portal/refunds/service.py:1: portal.refunds.service imports stripe"
    ]
    assert forbidden_imports(imports, "portal", "stripe_sandbox") == [
        "portal/refunds/service.py:2: portal.refunds.service imports stripe_sandbox.app"
    ]
    assert forbidden_imports(imports, "config", "portal") == [
        "config/settings.py:2: config.settings imports portal.x"
    ]


def test_checker_reports_domain_code_on_the_http_layer(tmp_path):
    root = _tree(
        tmp_path,
        {
            "portal/__init__.py": "from flask import request\n",
            "portal/agent/__init__.py": "",
            "portal/agent/views.py": "from flask import request\nfrom portal.capture import x\n",
            "portal/capture/__init__.py": "",
            "portal/capture/x.py": "from portal.agent.views import bp\n",
            "portal/capture/y.py": "import flask\n\ndef f():\n    return flask.request.form\n",
            "portal/capture/z.py": "from flask import g, request as current\n",
            "portal/capture/w.py": "from flask import current_app, g\n",
            "portal/capture/v.py": "from flask import current_app\n",
        },
    )
    assert domain_imports_of_blueprints(iter_imports(root, ["portal"])) == [
        "portal/capture/x.py:1: domain module portal.capture.x imports portal.agent.views"
    ]
    assert request_readers(root) == {
        "portal/capture/w.py": "portal/capture/w.py:1",
        "portal/capture/y.py": "portal/capture/y.py:4",
        "portal/capture/z.py": "portal/capture/z.py:1",
    }


def test_checker_reports_tests_importing_test_modules_or_conftests(tmp_path):
    root = _tree(
        tmp_path,
        {
            "tests/__init__.py": "",
            "tests/conftest.py": "from tests.support.web import login\n",
            "tests/support/__init__.py": "",
            "tests/support/web.py": "def login():\n    pass\n",
            "tests/unit/__init__.py": "",
            "tests/unit/conftest.py": "from tests.conftest import login\n",
            "tests/unit/test_a.py": "LOADED = 1\n",
            "tests/unit/test_b.py": (
                "from tests.unit.test_a import LOADED\n"
                "from . import test_a\n"
                "from .conftest import login\n"
                "from tests.support.web import login as sign_in\n"
                "\ndef test_b():\n    import tests.unit.test_a\n"
            ),
        },
    )
    assert imports_of_tests_or_conftests(iter_imports(root, ["tests"])) == [
        "tests/unit/conftest.py:1: tests.unit.conftest imports tests.conftest",
        "tests/unit/test_b.py:1: tests.unit.test_b imports tests.unit.test_a",
        "tests/unit/test_b.py:2: tests.unit.test_b imports tests.unit.test_a",
        "tests/unit/test_b.py:3: tests.unit.test_b imports tests.unit.conftest",
        "tests/unit/test_b.py:7: tests.unit.test_b imports tests.unit.test_a",
    ]

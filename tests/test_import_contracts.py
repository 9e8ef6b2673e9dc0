"""Import contracts: the architecture of DESIGN.md's "Layout", held by a small ``ast`` walk.

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
- config/ never imports portal/.

Each rule has a twin below that runs the checker on a synthetic package with a violation and
asserts that it is reported.
"""

from __future__ import annotations

import ast
import textwrap
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

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
    }
)
#: ... and the HTTP infrastructure around them. Every other unit of portal/ is domain code.
HTTP_INFRASTRUCTURE_UNITS = frozenset(
    {"portal", "portal.security", "portal.observability", "portal.errors", "portal.health"}
)

#: The request-scoped globals of Flask that domain code must not read.
REQUEST_GLOBALS = frozenset({"request", "g"})


@dataclass(frozen=True)
class Import:
    """One imported module (``target``) named at ``path:line`` of module ``importer``."""

    importer: str
    target: str
    path: str
    line: int

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}"


def module_name(relative: Path) -> str:
    parts = list(relative.with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def iter_imports(root: Path, packages: Iterable[str]) -> Iterator[Import]:
    """Yield every import in every module of ``packages`` (folders under ``root``).

    ``from a import b`` is resolved to module ``a.b`` when that module exists in the tree and to
    ``a`` otherwise (``b`` is then a name defined in ``a``). Relative imports are resolved too.
    """
    files = sorted(path for package in packages for path in (root / package).rglob("*.py"))
    known = {module_name(path.relative_to(root)) for path in files}
    for path in files:
        relative = path.relative_to(root)
        importer = module_name(relative)
        is_package = relative.name == "__init__.py"
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    yield Import(importer, alias.name, relative.as_posix(), node.lineno)
            elif isinstance(node, ast.ImportFrom):
                base = _from_base(importer, is_package, node)
                for alias in node.names:
                    candidate = f"{base}.{alias.name}"
                    target = candidate if candidate in known else base
                    yield Import(importer, target, relative.as_posix(), node.lineno)


def _from_base(importer: str, is_package: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    parts = importer.split(".")
    keep = len(parts) - node.level + (1 if is_package else 0)
    return ".".join(parts[:keep] + ([node.module] if node.module else []))


def unit_of(module: str, package: str = "portal") -> str | None:
    """``portal.capture.links`` -> ``portal.capture``; None outside ``package``."""
    parts = module.split(".")
    if parts[0] != package:
        return None
    return ".".join(parts[:2])


def _within(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


# -- the checks: each returns what it finds wrong, one line per finding -------------------------


def package_cycles(imports: Iterable[Import], package: str = "portal") -> list[str]:
    """Each cycle among ``package``'s units, with its edges. The root package itself is left
    out: Flask's blueprint-registration idiom (see the module docstring), the one exception."""
    edges: dict[str, dict[str, list[Import]]] = {}
    for imp in imports:
        source, target = unit_of(imp.importer, package), unit_of(imp.target, package)
        if None in (source, target) or package in (source, target) or source == target:
            continue
        edges.setdefault(source, {}).setdefault(target, []).append(imp)
    findings = []
    for component in strongly_connected_components({s: set(t) for s, t in edges.items()}):
        if len(component) < 2:
            continue
        ties = {
            f"  {source} -> {target} at {imp.where}": None
            for source in sorted(component)
            for target, found in sorted(edges.get(source, {}).items())
            if target in component
            for imp in found
        }
        findings.append(f"cycle among {', '.join(sorted(component))}:\n" + "\n".join(ties))
    return findings


def strongly_connected_components(graph: dict[str, set[str]]) -> list[set[str]]:
    """Tarjan's algorithm, iterative: every strongly connected component of ``graph``."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[set[str]] = []
    nodes = sorted(set(graph) | {t for targets in graph.values() for t in targets})
    for start in nodes:
        if start in index:
            continue
        work = [(start, iter(sorted(graph.get(start, ()))))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, successors = work[-1]
            for successor in successors:
                if successor not in index:
                    index[successor] = low[successor] = len(index)
                    stack.append(successor)
                    on_stack.add(successor)
                    work.append((successor, iter(sorted(graph.get(successor, ())))))
                    break
                if successor in on_stack:
                    low[node] = min(low[node], index[successor])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = set()
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.add(member)
                        if member == node:
                            break
                    components.append(component)
    return components


def forbidden_imports(
    imports: Iterable[Import], importers: str, target: str, allowed: Iterable[str] = ()
) -> list[str]:
    """Imports of ``target`` (or below it) by modules in ``importers``, but for ``allowed``."""
    allowed = set(allowed)
    found = {
        f"{imp.where}: {imp.importer} imports {imp.target}": None
        for imp in imports
        if _within(imp.importer, importers)
        and _within(imp.target, target)
        and imp.path not in allowed
    }
    return list(found)


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

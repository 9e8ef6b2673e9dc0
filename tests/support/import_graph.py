"""Who imports whom, read from the source with ``ast``: the walk under the import contracts
(tests/test_import_contracts.py) and the two checks that know nothing of portal's layers,
package cycles and forbidden imports.

Every ``import`` counts, including those inside functions (a deferred import still ties the
modules together; it only hides the tie until run time). A "unit" is one of a package's
subpackages (``portal.capture``) or top-level modules (``portal.cli``).
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path


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


def within(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def package_cycles(imports: Iterable[Import], package: str = "portal") -> list[str]:
    """Each cycle among ``package``'s units, with its edges. The root package itself is left
    out: Flask's blueprint-registration idiom (tests/test_import_contracts.py), the one
    exception."""
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
        if within(imp.importer, importers)
        and within(imp.target, target)
        and imp.path not in allowed
    }
    return list(found)

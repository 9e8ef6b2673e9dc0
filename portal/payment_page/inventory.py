"""The payment page's script inventory (``config/script_inventory.toml``), loaded and checked.

Each entry names one script the page may load, with its owner, purpose and how its integrity
is assured. ``docs/payment-page-scripts.md`` explains the choices.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from config.settings import PROJECT_ROOT

INVENTORY_PATH = PROJECT_ROOT / "config" / "script_inventory.toml"
#: How a script's integrity may be assured: a Subresource Integrity hash on the tag, or (for a
#: third party that forbids copies and changes its file in place) loading only from an origin
#: the page's CSP names.
INTEGRITY_METHODS = frozenset({"sri", "origin-pinned"})
REQUIRED_TEXT = ("id", "owner", "purpose", "justification", "integrity", "authorised_by")


class InventoryError(ValueError):
    """The inventory file is missing, malformed, or names a setting that is not set."""


@dataclass(frozen=True)
class InventoryScript:
    id: str
    #: The URL as the page writes it: a path for our own files, a full URL for a third party.
    src: str
    owner: str
    purpose: str
    integrity: str


@dataclass(frozen=True)
class Inventory:
    page_path: str
    scripts: tuple[InventoryScript, ...]
    #: sha384 values of inline scripts allowed on the page (normally none).
    inline_scripts: frozenset[str]

    def by_src(self) -> dict[str, InventoryScript]:
        return {script.src: script for script in self.scripts}


def _script(raw: Mapping, settings: Mapping) -> InventoryScript:
    missing = [name for name in REQUIRED_TEXT if not str(raw.get(name, "")).strip()]
    if missing:
        raise InventoryError(f"script {raw.get('id', '?')!r} lacks {', '.join(missing)}")
    if raw["integrity"] not in INTEGRITY_METHODS:
        raise InventoryError(
            f"script {raw['id']!r}: integrity must be one of {sorted(INTEGRITY_METHODS)}"
        )
    if ("src" in raw) == ("src_setting" in raw):
        raise InventoryError(f"script {raw['id']!r}: give exactly one of src or src_setting")
    src = raw.get("src") or settings.get(raw["src_setting"]) or ""
    if not src:
        raise InventoryError(f"script {raw['id']!r}: setting {raw['src_setting']} is not set")
    if raw["integrity"] == "sri" and not src.startswith("/"):
        raise InventoryError(f"script {raw['id']!r}: only our own files (a /path) carry SRI")
    return InventoryScript(raw["id"], src, raw["owner"], raw["purpose"], raw["integrity"])


def load_inventory(settings: Mapping, path: Path | None = None) -> Inventory:
    """The inventory at ``path`` (default: the repository's), with ``src_setting`` entries
    resolved from ``settings`` (the app's config). Raises InventoryError."""
    path = path or INVENTORY_PATH
    try:
        raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as problem:
        raise InventoryError(f"cannot read the script inventory {path}: {problem}") from None
    page = raw.get("page") or {}
    if not page.get("path"):
        raise InventoryError("the inventory's [page] needs a path")
    scripts = tuple(_script(entry, settings) for entry in raw.get("scripts", []))
    if len({script.id for script in scripts}) != len(scripts):
        raise InventoryError("two inventory scripts share an id")
    return Inventory(page["path"], scripts, frozenset(page.get("inline_scripts", [])))

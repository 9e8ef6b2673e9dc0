"""Request parameters as Stripe's form encoding carries them, and Stripe's validation of them.

The SDK sends ``metadata[order]=42``, ``payment_method_types[0]=card``, ``expand[0]=x``;
Stripe.js and curl also send ``expand[]=x``. :func:`parse_form` turns those into nested dicts
and lists; :class:`Params` reads them with Stripe's error codes for missing or invalid values.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from . import errors

_KEY_PART = re.compile(r"\[([^\[\]]*)\]")
METADATA_MAX_KEYS = 50
METADATA_KEY_MAX = 40
METADATA_VALUE_MAX = 500


def parse_form(pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """Nest ``a[b][0]=v`` pairs into ``{"a": {"b": ["v"]}}``; ``a[]=v`` appends to a list."""
    root: dict[str, Any] = {}
    for raw_key, value in pairs:
        head, _, rest = raw_key.partition("[")
        parts = [head, *_KEY_PART.findall("[" + rest)] if rest else [head]
        node = root
        for depth, part in enumerate(parts):
            if part == "":  # "[]": the next free index
                part = str(len(node))
            if depth == len(parts) - 1:
                node[part] = value
                break
            child = node.get(part)
            if not isinstance(child, dict):
                if child not in (None, ""):
                    raise errors.parameter_invalid(
                        raw_key,
                        f"Invalid hash or array for parameter {raw_key}.",
                        code="parameter_invalid_empty",
                    )
                child = node[part] = {}
            node = child
    return _lists_from_index_dicts(root)


def _lists_from_index_dicts(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    converted = {key: _lists_from_index_dicts(value) for key, value in node.items()}
    if converted and all(key.isdigit() for key in converted):
        return [converted[key] for key in sorted(converted, key=int)]
    return converted


class Params:
    """Typed, validating access to one request's parameters.

    ``prefix`` names nested groups in error messages the way Stripe does (``card[exp_month]``).
    """

    def __init__(self, data: dict[str, Any], prefix: str = "") -> None:
        self.data = data
        self.prefix = prefix

    def _name(self, key: str) -> str:
        return f"{self.prefix}[{key}]" if self.prefix else key

    def __contains__(self, key: str) -> bool:
        return key in self.data

    def reject_unknown(self, allowed: Iterable[str]) -> None:
        permitted = set(allowed) | ({"expand"} if not self.prefix else set())
        for key in self.data:
            if key not in permitted:
                raise errors.parameter_unknown(self._name(key))

    def nested(self, key: str, allowed: Iterable[str]) -> Params:
        """The sub-hash ``key`` (empty if absent), its keys checked against ``allowed``."""
        value = self.data.get(key, {})
        if value == "":
            value = {}
        if not isinstance(value, dict):
            raise errors.parameter_invalid(
                self._name(key),
                f"Invalid object for {self._name(key)}.",
                code="parameter_invalid_empty",
            )
        sub = Params(value, self._name(key))
        sub.reject_unknown(allowed)
        return sub

    def string(
        self,
        key: str,
        *,
        required: bool = False,
        choices: Iterable[str] | None = None,
        max_length: int = 5000,
    ) -> str | None:
        value = self.data.get(key)
        if value is None or (value == "" and not required):
            if required:
                raise errors.parameter_missing(self._name(key))
            return None
        if not isinstance(value, str) or value == "":
            raise errors.parameter_invalid(self._name(key), f"Invalid string: {self._name(key)}.")
        if choices is not None and value not in set(choices):
            options = ", ".join(f"`{choice}`" for choice in choices)
            raise errors.parameter_invalid(
                self._name(key),
                f"Invalid {self._name(key)}: must be one of {options}",
                code="parameter_invalid_string",
            )
        if len(value) > max_length:
            raise errors.parameter_invalid(
                self._name(key),
                f"Invalid {self._name(key)}: must be at most {max_length} characters",
                code="parameter_invalid_string",
            )
        return value

    def integer(self, key: str, *, required: bool = False, positive: bool = False) -> int | None:
        value = self.data.get(key)
        if value is None or value == "":
            if required:
                raise errors.parameter_missing(self._name(key))
            return None
        if not isinstance(value, str) or not re.fullmatch(r"-?\d{1,15}", value):
            raise errors.parameter_invalid(
                self._name(key), f"Invalid integer: {value}", code="parameter_invalid_integer"
            )
        number = int(value)
        if positive and number <= 0:
            raise errors.parameter_invalid(
                self._name(key), "Invalid positive integer", code="parameter_invalid_integer"
            )
        return number

    def boolean(self, key: str) -> bool | None:
        value = self.data.get(key)
        if value is None or value == "":
            return None
        if value not in ("true", "false"):
            raise errors.parameter_invalid(
                self._name(key), f"Invalid boolean: {value}", code="parameter_invalid_string"
            )
        return value == "true"

    def string_list(self, key: str) -> list[str] | None:
        value = self.data.get(key)
        if value is None:
            return None
        if value == "":
            return []
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise errors.parameter_invalid(
                self._name(key),
                f"Invalid array for {self._name(key)}.",
                code="parameter_invalid_empty",
            )
        return value

    def metadata(self, current: dict[str, str] | None = None) -> dict[str, str]:
        """``current`` metadata after this request's update, with Stripe's semantics and limits.

        Absent keeps it; ``metadata=""`` clears it; ``metadata[k]=""`` unsets ``k``. At most 50
        keys, keys up to 40 characters, values up to 500.
        """
        merged = dict(current or {})
        value = self.data.get("metadata")
        if value is None:
            return merged
        if value == "":
            return {}
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            raise errors.parameter_invalid(
                "metadata", "Invalid hash", code="parameter_invalid_empty"
            )
        for meta_key, meta_value in value.items():
            if len(meta_key) > METADATA_KEY_MAX:
                raise errors.parameter_invalid(
                    f"metadata[{meta_key}]",
                    f"Metadata keys can have up to {METADATA_KEY_MAX} characters.",
                )
            if len(meta_value) > METADATA_VALUE_MAX:
                raise errors.parameter_invalid(
                    f"metadata[{meta_key}]",
                    f"Metadata values can have up to {METADATA_VALUE_MAX} characters.",
                )
            if meta_value == "":
                merged.pop(meta_key, None)
            else:
                merged[meta_key] = meta_value
        if len(merged) > METADATA_MAX_KEYS:
            raise errors.parameter_invalid(
                "metadata",
                f"Invalid metadata: metadata cannot have more than {METADATA_MAX_KEYS} keys",
                code="parameter_invalid_empty",
            )
        return merged

    def expand(self) -> list[str]:
        return self.string_list("expand") or []

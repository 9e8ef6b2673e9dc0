"""The README's production section is what the production-like stack runs, so copying it works.

The stack (tests/prodlike/stack.py) runs the README's commands as given: it fills in the proxy
template with the README's envsubst line, migrates with ``flask db upgrade``, serves with the
README's gunicorn line and starts the README's workers. These tests keep the two from drifting.
"""

from __future__ import annotations

import re
from pathlib import Path

from tests.prodlike.certificates import Certificates
from tests.prodlike.environment import StripeKeys, production_environment
from tests.prodlike.proxy import ENVSUBST, PROXY_TEMPLATE
from tests.prodlike.stack import GUNICORN, MIGRATE, WORKERS

README = Path(__file__).resolve().parents[2] / "README.md"


def production_section() -> str:
    text = README.read_text()
    start = text.index("### Production deployment")
    return text[start : text.index("\n## ", start)]


def production_commands() -> list[str]:
    """The lines of the section's code block, continuation lines joined."""
    block = re.search(r"```\n(.*?)```", production_section(), re.S)[1]
    return [line.strip() for line in block.replace("\\\n", " ").splitlines()]


def test_the_stack_runs_the_commands_the_readme_gives():
    commands = production_commands()
    for command in (MIGRATE, GUNICORN, *WORKERS.values()):
        assert " ".join(command) in commands, f"the README no longer says {' '.join(command)}"
    assert any(line.startswith(ENVSUBST + " ") for line in commands)
    assert PROXY_TEMPLATE.relative_to(README.parent).as_posix() in ENVSUBST


def test_every_variable_the_stack_sets_is_documented(tmp_path):
    environment = production_environment(
        database_url="postgresql://127.0.0.1/postern",
        key_store_url="postgresql://127.0.0.1:5433/postern_keys",
        public_url="https://localhost",
        sandbox_url="https://127.0.0.1:1",
        certificates=Certificates(tmp_path / "ca", tmp_path / "cert", tmp_path / "key", "pin"),
        smtp_port=25,
        rate_limit_prefix="postern",
        stripe_keys=StripeKeys(),
        hooks_receiver="127.0.0.1:8443",
    )
    readme = README.read_text()
    undocumented = [name for name in environment.variables if f"`{name}" not in readme]
    assert undocumented == []


def test_every_value_the_proxy_template_needs_is_set_in_the_readme():
    needed = set(re.findall(r"\$\{(POSTERN_[A-Z_]+)\}", PROXY_TEMPLATE.read_text()))
    exported = set(re.findall(r"(POSTERN_[A-Z_]+)=", production_section()))
    assert needed <= exported, needed - exported

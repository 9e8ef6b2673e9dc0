"""Fixtures for tests on the production-like stack (tests/prodlike/stack.py).

Loaded for the whole suite by ``pytest_plugins`` in tests/conftest.py, so browser journeys in
tests/browser/ can run on the stack as well as on the development server.

- ``prodlike_certificates``: the run's CA and server certificate (made once per test process;
  the ``browser`` fixture pins it, so one Chromium serves both stacks).
- ``prodlike_stack``: the stack, started once per test process on first use (about 10 s).
- ``prodlike``: the stack for one test, with the run's rate-limit counts cleared first.

Any test that uses them is marked ``prodlike`` (scripts/test.sh runs those once, in the
PostgreSQL pass: the stack always runs on PostgreSQL, whatever the pass).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.prodlike.certificates import Certificates
from tests.prodlike.stack import Stack, start_stack

STACK_FIXTURES = {"prodlike", "prodlike_stack"}


@pytest.fixture(scope="session")
def prodlike_certificates(tmp_path_factory) -> Certificates:
    return Certificates.create(Path(tempfile.mkdtemp(dir=tmp_path_factory.getbasetemp())))


@pytest.fixture(scope="session")
def prodlike_stack(prodlike_certificates) -> Iterator[Stack]:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    stack = start_stack(name=worker, certificates=prodlike_certificates)
    yield stack
    stack.stop()


@pytest.fixture
def prodlike(prodlike_stack) -> Stack:
    prodlike_stack.clear_rate_limits()
    return prodlike_stack


def pytest_collection_modifyitems(items) -> None:
    for item in items:
        if STACK_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.prodlike)

"""Helpers and factories the tests share: one home, imported by name.

conftest.py files hold fixtures and hooks only (pytest finds them; nobody imports them), test
modules import nothing from one another, and a helper used by one test directory alone stays
next to its tests (``tests/test_import_contracts.py`` holds all three rules).
"""

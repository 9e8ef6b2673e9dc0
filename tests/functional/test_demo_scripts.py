"""``make run``'s scripts: they say what they are doing while it takes long, keep alembic's
chatter out of the way, and leave nothing running after Ctrl-C; the development outbox is one
click away once signed in, and never offered where it does not exist."""

from __future__ import annotations

import shutil
import signal
import subprocess
from pathlib import Path

import pytest

from tests.support.loopback import wait_until
from tests.support.web import login

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ROOT / "scripts"


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            # "pid (comm) state ppid ...": comm may hold spaces, so split after its ")".
            fields = stat.rsplit(")", 1)[1].split()
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_every_stops_its_sleep_when_stopped():
    """Proves: stopping the every-minute loop (as ``make run``'s Ctrl-C does) leaves no
    ``sleep`` behind; the bare ``while sleep 60`` loop it replaces did."""
    loop = subprocess.Popen([str(SCRIPTS / "every.sh"), "3607", "true"])
    try:
        [sleep] = wait_until(lambda: _children(loop.pid), 10, "the loop's sleep")
        assert Path(f"/proc/{sleep}/cmdline").read_bytes().split(b"\0")[:2] == [b"sleep", b"3607"]

        loop.send_signal(signal.SIGTERM)
        assert loop.wait(timeout=10) == 0

        wait_until(lambda: not _running(sleep), 10, "the sleep to end")
    finally:
        if loop.poll() is None:
            loop.kill()


def test_the_demo_script_stops_its_helpers_and_runs_the_loop_through_every():
    script = (SCRIPTS / "demo.sh").read_text()
    assert "(while sleep" not in script
    assert "scripts/every.sh 60 .venv/bin/flask payments reconcile" in script
    assert "trap cleanup EXIT" in script and "wait 2>/dev/null" in script


def test_migrations_say_one_line_and_keep_alembics_in_a_log():
    script = (SCRIPTS / "demo.sh").read_text()
    assert 'echo "Preparing the database' in script
    assert "flask db upgrade >instance/migrate.log 2>&1" in script


@pytest.fixture
def fake_project(tmp_path) -> Path:
    """A copy of bootstrap.sh beside a stand-in .venv whose pip only says it ran."""
    (tmp_path / "scripts").mkdir()
    shutil.copy(SCRIPTS / "bootstrap.sh", tmp_path / "scripts" / "bootstrap.sh")
    (tmp_path / "requirements.txt").write_text("flask==3.0.0\n")
    bin_dir = tmp_path / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    for name in ("python", "pip"):
        stand_in = bin_dir / name
        stand_in.write_text(f'#!/bin/sh\necho "{name} ran"\n')
        stand_in.chmod(0o755)
    return tmp_path


def test_bootstrap_says_it_is_installing_before_the_long_quiet_pip(fake_project):
    run = [str(fake_project / "scripts" / "bootstrap.sh")]
    first = subprocess.run(run, capture_output=True, text=True, timeout=30, check=True)
    lines = first.stdout.splitlines()
    assert lines[0] == (
        "Installing dependencies from requirements.txt (the first run takes a few minutes)..."
    )
    assert lines[1:] == ["pip ran", "Dependencies installed."]

    again = subprocess.run(run, capture_output=True, text=True, timeout=30, check=True)
    assert again.stdout == ""  # nothing to install: nothing said


def test_signed_in_staff_find_the_development_outbox_in_the_menu(app, make_staff):
    client = app.test_client()
    login(client, make_staff("agent"))
    page = client.get("/agent/").text
    assert '<a href="/dev/outbox">Development outbox</a>' in page
    assert client.get("/dev/outbox").status_code == 200


def test_without_the_development_outbox_there_is_no_link(app_factory, make_staff):
    app = app_factory(DEV_OUTBOX_ENABLED=False)
    client = app.test_client()
    login(client, make_staff("agent"))
    assert "Development outbox" not in client.get("/agent/").text

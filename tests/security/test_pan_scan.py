"""The end-of-run scan for stored card numbers really finds them: in a log line, in a database
dump, in any spelling; and machine-made hex (hashes, sealed bytes) does not set it off.

The scan itself runs at the end of every run (``pytest_sessionfinish`` in tests/conftest.py):
on PostgreSQL every row any test stored is kept (``keep_rows_for_scan``), the database is
dumped with ``pg_dump``, and the dump and every log are scanned. These tests prove the scanner
would fail that run.
"""

from __future__ import annotations

from portal.card_numbers import contains_pan
from tests.support.artifacts import (
    card_numbers_in_database,
    card_numbers_in_dump,
    card_numbers_in_text,
    keep_rows_for_scan,
    kept_rows_table,
    pg_dump,
    unmasked_card_numbers_in_logs,
)
from tests.support.capture import create_direct, update_request
from tests.support.card_numbers import ASSESSED_SPELLINGS
from tests.support.database import needs_postgres

HASH = "9f2c4111111111111111a0" + "4" * 42  # hex with a Luhn-valid run inside


def test_the_text_scan_finds_every_spelling_and_says_where():
    for spelling in ASSESSED_SPELLINGS:
        found = card_numbers_in_text(f"first line\nref {spelling} here\n", "x.log")
        assert len(found) == 1 and found[0].startswith("x.log:2: "), spelling
        assert "4242" not in found[0]  # the report itself masks what it found


def test_hashes_and_bytea_do_not_count_but_a_number_next_to_them_does():
    assert card_numbers_in_text(f"{HASH}\t\\\\x4111111111111111ab", "d.sql") == []
    assert card_numbers_in_text(f"{HASH}\t4111111111111111", "d.sql") != []


def test_a_provider_message_id_is_machine_made_but_a_card_behind_letters_is_not():
    """A Twilio message SID is ``SM`` and 32 hex digits; now and then its digits hold a
    Luhn-valid run with an issuer prefix (one did: ``SM5fb`` + 13 digits + 16 more hex)."""
    sid = "SM5fb" + "4222222222222" + "df1916c6ae103263"
    assert contains_pan(sid)  # the detector itself would flag it
    assert card_numbers_in_text(f"1\t{sid}\tsent", "d.sql") == []
    assert card_numbers_in_dump(f"1\t{sid}\tsent", "d.sql") == []
    # What a person typed is still found: a short prefix, or letters that are not a SID's hex.
    assert card_numbers_in_text("ref SM4111111111111111", "d.sql") != []
    assert card_numbers_in_text("SMxy4111111111111111zz", "d.sql") != []


def test_a_dump_is_scanned_value_by_value_with_its_escapes_undone():
    """A row's values are separated by tabs: a sequence number beside a timestamp is not one
    number; but a tab typed inside a value (written ``\\t``) separates digit groups as ever."""
    row = "1359\t2026-12-06 18:36:30.14+00\tanonymous\t4111\\t1111\\t1111\\t1111\t\\N"
    assert card_numbers_in_dump(row, "d.sql") == ["d.sql:1: [REDACTED-PAN]"]
    # A sequence number that, read together with the timestamp beside it, makes a card number.
    seq = next(n for n in range(4000, 5000) if contains_pan(f"{n} 2026-12-06 18"))
    assert card_numbers_in_text(f"{seq}\t2026-12-06 18:36:30+00", "log") != []
    assert card_numbers_in_dump(f"{seq}\t2026-12-06 18:36:30+00", "d.sql") == []


def test_json_values_in_a_dump_are_scanned_one_by_one_with_their_escapes_undone():
    kept = 'audit_events\t{"details": {"note": "4111\\\\t1111\\\\t1111\\\\t1111"}, "seq": 4}'
    assert card_numbers_in_dump(kept, "d.sql") == ["d.sql:1: [REDACTED-PAN]"]
    assert card_numbers_in_dump('t\t{"seq": 4111, "n": "1111 1111 1111"}', "d.sql") == []


def test_the_log_scan_reads_dumps_too(tmp_path):
    (tmp_path / "dumps").mkdir()
    (tmp_path / "dumps" / "postgres.sql").write_text(
        "COPY t (a) FROM stdin;\n5555.5555.5555.4444\n"
    )
    (tmp_path / "suite.log").write_text('{"message": "nothing here"}\n')
    assert unmasked_card_numbers_in_logs(tmp_path) == ["postgres.sql:2: [REDACTED-PAN]"]


def test_the_database_scan_finds_a_stored_card_number(app, make_staff):
    public_id, _ = create_direct(app, make_staff("agent").id)
    assert card_numbers_in_database(app) == []
    update_request(app, public_id, reference="4242\u00a04242\u00a04242\u00a04242")
    try:
        assert card_numbers_in_database(app) == ["capture_requests.reference: [REDACTED-PAN]"]
    finally:  # taken out again, or the end-of-run scan would (rightly) fail the run
        update_request(app, public_id, reference="ACC-1")


@needs_postgres("pg_dump reads a PostgreSQL database")
def test_a_card_number_in_the_database_is_in_its_dump_and_the_scan_finds_it(
    app, make_staff, database_url
):
    public_id, _ = create_direct(app, make_staff("agent").id)
    update_request(app, public_id, reference="4242_4242_4242_4242")
    try:
        dump = pg_dump(database_url)
        found = card_numbers_in_dump(dump, "postgres.sql")
        assert len(found) == 1 and found[0].endswith(": [REDACTED-PAN]"), found
    finally:
        update_request(app, public_id, reference="ACC-1")
    assert card_numbers_in_dump(pg_dump(database_url), "postgres.sql") == []


@needs_postgres("the rows kept for the end-of-run dump are PostgreSQL's")
def test_a_row_stored_and_then_emptied_is_still_in_the_end_of_run_dump(
    app, make_staff, database_url
):
    """The tables are emptied after every test, so the rows are kept first
    (``keep_rows_for_scan``, from the app fixture's teardown): a card number any test stored
    is in the dump at the end of the run."""
    from sqlalchemy import text

    from portal.extensions import db

    public_id, _ = create_direct(app, make_staff("agent").id)
    update_request(app, public_id, reference="4242.4242.4242.4242")
    with app.app_context():
        keep_rows_for_scan(db)
    update_request(app, public_id, reference="ACC-1")
    try:
        found = card_numbers_in_dump(pg_dump(database_url), "postgres.sql")
        assert len(found) == 1 and found[0].endswith(": [REDACTED-PAN]"), found
    finally:  # this test's own card number is taken out of the kept rows again
        with app.app_context():
            kept = kept_rows_table()  # a fixed name (tests/support/artifacts.py)
            db.session.execute(text(f"DELETE FROM {kept} WHERE row::text LIKE '%4242.4242%'"))  # noqa: S608
            db.session.commit()

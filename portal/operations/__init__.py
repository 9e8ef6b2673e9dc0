"""Operating an installation: the restore drill (``flask ops restore-drill``).

``restore_drill`` runs the drill, ``report`` is what it tells, ``pg_client`` drives
PostgreSQL's ``pg_dump`` and ``pg_restore`` and the scratch database, ``restored_checks``
checks the restored copy, and ``cli`` is the command. docs/operations.md is the operator's guide.
"""

"""Development-only tools (the outbox page). Registered only when DEV_OUTBOX_ENABLED is on,
which production refuses."""

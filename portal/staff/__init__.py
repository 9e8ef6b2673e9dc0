"""Staff accounts as a domain: creating, disabling, roles, teams, second-factor resets, and
re-authentication for sensitive actions. Used by the CLI and the back office alike."""

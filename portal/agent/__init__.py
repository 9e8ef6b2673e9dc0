"""The agent blueprint."""

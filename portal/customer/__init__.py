"""The customer blueprint."""

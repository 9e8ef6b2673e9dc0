"""The backoffice blueprint."""

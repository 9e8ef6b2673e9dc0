"""The error capture's services raise for what the policy or a request's state does not allow."""

from __future__ import annotations


class CaptureError(ValueError):
    """The agent asked for something the policy or the request's state does not allow.
    ``field``: the field at fault (the form's and the API's name for it), when one is."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field

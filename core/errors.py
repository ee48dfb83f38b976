"""Errors a user can act on. The CLI prints them and exits 2; the API turns them into 4xx responses."""

from __future__ import annotations


class InputError(Exception):
    """Bad input: the message says what is wrong and what to do about it."""

    status_code = 422

    def __init__(self, code: str, message: str, status_code: int | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        if status_code is not None:
            self.status_code = status_code

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


class BackendUnavailable(Exception):
    """A model backend cannot run here (weights or device missing); callers fall back and record why."""

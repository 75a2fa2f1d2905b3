"""Errors that services raise, in words a person can read, for pages and the API to show.

Pages put :attr:`InvalidInput.errors` beside each field and in the summary at the top; the API
turns them into its one JSON error shape. None of these mean a bug: they are answers.
"""

from __future__ import annotations

from collections.abc import Mapping


class ServiceError(Exception):
    """Something the user asked for cannot be done; ``message`` says why in plain words."""

    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(ServiceError):
    """One or more fields are wrong. ``errors`` maps each field's name to what is wrong."""

    status = 422

    def __init__(self, errors: Mapping[str, str]) -> None:
        first = next(iter(errors.values()), "There is a problem")
        super().__init__(first)
        self.errors = dict(errors)


class StateConflict(InvalidInput):
    """Fields that are well formed but clash with what is stored now: more choices than the
    round allows, an offer this person cannot choose, taking out an offer people chose.

    The API answers 409 (the request is fine; the state is not), with ``errors`` naming each
    field as :class:`InvalidInput` does, so pages show them beside the fields the same way.
    """

    status = 409


class NotAllowed(ServiceError):
    """The signed-in user may not do this (for example an advocate without consent)."""

    status = 403


class NotFound(ServiceError):
    """The thing asked for does not exist, or the user may not know that it does."""

    status = 404


class Conflict(ServiceError):
    """The thing changed meanwhile (a place was taken, a round closed): try again."""

    status = 409


class TooManyRequests(ServiceError):
    """The user has done this too often lately; ``message`` says how long to wait."""

    status = 429

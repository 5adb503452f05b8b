"""Errors of the media domain; each tells the uploader what is wrong in words they can act on."""

from __future__ import annotations

from collections.abc import Sequence

from videoforge.kit.errors import FieldViolation, InvalidArgument


class UnsupportedMedia(InvalidArgument):
    """The file is not a video we accept (wrong kind of file, unreadable, or past a limit).

    Bad media never gets better on retry: a job that meets this fails at once with the message.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message, "UNSUPPORTED_MEDIA")


class UnknownFormat(InvalidArgument):
    """A requested output format is not one of the ladder's names or aliases."""

    def __init__(self, value: str, allowed: Sequence[str]) -> None:
        description = f"Unknown format '{value}'; allowed: {', '.join(allowed)}"
        super().__init__(description, "UNKNOWN_FORMAT", [FieldViolation("formats", description)])
        self.value = value
        self.allowed = tuple(allowed)

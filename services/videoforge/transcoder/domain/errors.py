"""Errors of the media domain; each tells the uploader what is wrong in words they can act on."""

from __future__ import annotations

from videoforge.kit.errors import InvalidArgument


class UnsupportedMedia(InvalidArgument):
    """The file is not a video we accept (wrong kind of file, unreadable, or past a limit).

    Bad media never gets better on retry: a job that meets this fails at once with the message.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message, "UNSUPPORTED_MEDIA")


class SourceRefused(InvalidArgument):
    """An imported source cannot be fetched as asked (a forbidden address, a 404, too large); trying again would
    meet the same answer, so the job fails at once with the message."""

    def __init__(self, message: str) -> None:
        super().__init__(message, "SOURCE_REFUSED")


class SourceUnavailable(Exception):
    """An imported source could not be fetched for now (unreachable, a 5xx answer); the job is tried again."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

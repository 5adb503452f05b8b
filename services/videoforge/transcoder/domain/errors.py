"""Errors of the media domain; each tells the uploader what is wrong in words they can act on."""

from __future__ import annotations

from videoforge.kit.errors import InvalidArgument


class UnsupportedMedia(InvalidArgument):
    """The file is not a video we accept (wrong kind of file, unreadable, or past a limit).

    Bad media never gets better on retry: a job that meets this fails at once with the message.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message, "UNSUPPORTED_MEDIA")

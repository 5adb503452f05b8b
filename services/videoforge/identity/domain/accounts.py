"""Accounts: what a valid email and password are, and what a user is."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from videoforge.kit.errors import InvalidArgument

ROLES = ("user", "admin")
MIN_PASSWORD_LENGTH = 8
MAX_DISPLAY_NAME = 200  # the users table's column
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclass(frozen=True)
class User:
    id: str
    email: str
    display_name: str
    role: str
    password_hash: str
    create_time: datetime


def normalise_email(email: str) -> str:
    cleaned = email.strip().lower()
    if not cleaned:
        raise InvalidArgument.for_field("email", "is required", "MISSING_FIELD")
    if len(cleaned) > 254 or not _EMAIL.match(cleaned):
        raise InvalidArgument.for_field("email", f"'{email}' is not an email address", "INVALID_EMAIL")
    return cleaned


def display_name_for(display_name: str, email: str) -> str:
    """The name as given, or the email's local part (cut to fit) when none is."""
    cleaned = display_name.strip()
    if len(cleaned) > MAX_DISPLAY_NAME:
        raise InvalidArgument.for_field(
            "display_name", f"must be at most {MAX_DISPLAY_NAME} characters", "DISPLAY_NAME_TOO_LONG"
        )
    return cleaned or email.split("@")[0][:MAX_DISPLAY_NAME]


def check_password_strength(password: str, field_name: str = "password") -> None:
    """At least 8 characters mixing at least two of: letters, digits, other characters."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidArgument.for_field(
            field_name, f"must be at least {MIN_PASSWORD_LENGTH} characters long", "WEAK_PASSWORD"
        )
    classes = sum(
        [any(c.isalpha() for c in password), any(c.isdigit() for c in password), any(not c.isalnum() for c in password)]
    )
    if classes < 2:
        raise InvalidArgument.for_field(field_name, "must mix letters with digits or symbols", "WEAK_PASSWORD")


def check_role(role: str) -> str:
    if role not in ROLES:
        raise InvalidArgument.for_field("role", f"must be one of {', '.join(ROLES)}", "INVALID_ROLE")
    return role

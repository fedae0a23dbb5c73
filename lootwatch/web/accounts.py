"""Accounts of the review app: argon2id password hashes, roles analyst and admin.

A new password or a disabled account ends every session of the user (:mod:`lootwatch.web.sessions`).
"""

from __future__ import annotations

import re

import psycopg
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from lootwatch.core.db import Database
from lootwatch.core.errors import BadInputError
from lootwatch.web.sessions import end_sessions

ROLES = ("analyst", "admin")
MIN_PASSWORD = 10
MAX_PASSWORD = 1024  # argon2 hashes any length; a megabyte password is only load
_USERNAME = re.compile(r"^[A-Za-z0-9._@-]{1,64}$")
_hasher = PasswordHasher()
# verified against when the user does not exist, so a login takes as long either way
_DUMMY_HASH = _hasher.hash("lootwatch-no-such-user")


def add_user(db: Database, username: str, password: str, role: str = "analyst") -> int:
    """Create an account; :class:`BadInputError` for a bad name, weak password, bad role or duplicate."""
    if not _USERNAME.match(username):
        raise BadInputError("username: 1-64 letters, digits or . _ @ -")
    if role not in ROLES:
        raise BadInputError(f"role must be one of: {', '.join(ROLES)}")
    _check_password(password)
    try:
        row = db.fetchone(
            "INSERT INTO users (username, password_hash, role) VALUES (%s, %s, %s) RETURNING id",
            (username, _hasher.hash(password), role),
        )
    except psycopg.errors.UniqueViolation:
        raise BadInputError(f"user {username!r} already exists") from None
    assert row is not None
    return int(row["id"])


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise BadInputError(f"password must have at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise BadInputError(f"password must have at most {MAX_PASSWORD} characters")


def set_password(db: Database, username: str, password: str) -> int:
    """Set a new password and end every session of the user; returns how many sessions ended."""
    _check_password(password)
    row = db.fetchone(
        "UPDATE users SET password_hash = %s WHERE username = %s RETURNING id",
        (_hasher.hash(password), username),
    )
    if row is None:
        raise BadInputError(f"no user {username!r}")
    return end_sessions(db, int(row["id"]), "password changed")


def disable_user(db: Database, username: str) -> int:
    """Disable the account (kept: decisions name it) and end its sessions; returns how many ended."""
    row = db.fetchone(
        "UPDATE users SET disabled_at = COALESCE(disabled_at, now()) WHERE username = %s RETURNING id",
        (username,),
    )
    if row is None:
        raise BadInputError(f"no user {username!r}")
    return end_sessions(db, int(row["id"]), "account disabled")


def authenticate(db: Database, username: str, password: str) -> dict | None:
    """The user row (id, username, role) when the password is right and the account active."""
    if len(password) > MAX_PASSWORD:
        return None
    row = db.fetchone(
        "SELECT id, username, role, password_hash FROM users WHERE username = %s AND disabled_at IS NULL",
        (username,),
    )
    try:
        _hasher.verify(row["password_hash"] if row else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    if row is None:
        return None
    if _hasher.check_needs_rehash(row["password_hash"]):
        db.execute("UPDATE users SET password_hash = %s WHERE id = %s", (_hasher.hash(password), row["id"]))
    db.execute("UPDATE users SET last_login_at = now() WHERE id = %s", (row["id"],))
    return {"id": row["id"], "username": row["username"], "role": row["role"]}


def get_user(db: Database, user_id: int) -> dict | None:
    return db.fetchone("SELECT id, username, role FROM users WHERE id = %s AND disabled_at IS NULL", (user_id,))


def list_users(db: Database) -> list[dict]:
    return db.fetchall("SELECT id, username, role, created_at, last_login_at, disabled_at FROM users ORDER BY id")

"""The CLI's saved sign-in (server URL and tokens), kept 0600 in the user's config directory."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import platformdirs

DEFAULT_SERVER = "http://127.0.0.1:8080"


def credentials_path() -> Path:
    override = os.environ.get("VIDEOFORGE_CONFIG_DIR")
    folder = Path(override) if override else Path(platformdirs.user_config_dir("videoforge", appauthor=False))
    return folder / "credentials.json"


@dataclass
class SavedSession:
    server: str = DEFAULT_SERVER
    access_token: str = ""
    refresh_token: str = ""
    email: str = ""

    @classmethod
    def load(cls) -> SavedSession:
        path = credentials_path()
        if not path.exists():
            return cls()
        return cls(**{k: v for k, v in json.loads(path.read_text()).items() if k in cls.__dataclass_fields__})

    def save(self) -> Path:
        path = credentials_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        # Created 0600 before anything is written: tokens are never readable by others, even briefly.
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as file:
            json.dump(asdict(self), file)
        path.chmod(0o600)
        return path

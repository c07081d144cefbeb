"""File names people give (uploads, deploys): reduced to a safe base name before they are stored or shown."""
from __future__ import annotations

from pathlib import PurePosixPath, PureWindowsPath


def clean_filename(filename: str) -> str:
    """Keep only the last path part of a given name (browsers may send a full path)."""
    name = PureWindowsPath(PurePosixPath(filename).name).name.strip().replace("\x00", "")
    return name[:255]

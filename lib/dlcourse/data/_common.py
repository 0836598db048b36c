"""Shared pieces of the data loaders: the missing-data error, the online probe, atomic caches."""
from __future__ import annotations

import os
import socket
import tempfile
from pathlib import Path

import torch

from .. import runtime


class DataNotFound(FileNotFoundError):
    """The data set is not on disk and could not be downloaded; the message says what to put where."""


def online(host: str, port: int = 443, timeout: float = 3.0) -> bool:
    """True if ``host`` answers within ``timeout`` seconds and downloads are allowed."""
    if runtime.is_offline():
        return False
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def first_existing(candidates) -> Path | None:
    for path in candidates:
        if Path(path).exists():
            return Path(path)
    return None


def save_atomic(obj, path: Path) -> None:
    """``torch.save`` to a temporary file, then rename: a killed run never leaves half a cache."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    os.close(fd)
    try:
        torch.save(obj, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)

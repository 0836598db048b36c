"""Run mode, seeding, device and paths: decided once here, asked for by every notebook.

Three run modes share one code path:

* ``grade`` - nbgrader is executing the notebook (it sets ``NBGRADER_EXECUTION``); only the
  implementations are judged, so training is tiny and nothing is downloaded.
* ``fast``  - CI or a quick smoke run (``DLCOURSE_MODE=fast``); tiny subsets, seconds per cell.
* ``full``  - a student's machine; real epochs on the best device available.

Notebooks never read environment variables themselves: they call :func:`setup` and ask the
returned :class:`Context` for budgets (``ctx.pick(full=30, fast=1)``).
"""
from __future__ import annotations

import os
import random
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

MODES = ("full", "fast", "grade")

ENV_MODE = "DLCOURSE_MODE"
ENV_DATA_ROOT = "DLCOURSE_DATA_ROOT"
ENV_CACHE_DIR = "DLCOURSE_CACHE_DIR"
ENV_OFFLINE = "DLCOURSE_OFFLINE"
ENV_NBGRADER = "NBGRADER_EXECUTION"

DEFAULT_DATA_ROOT = Path.home() / "dlcourse_data"
DEFAULT_CACHE_DIR = Path.home() / ".cache" / "dlcourse"


def run_mode() -> str:
    """Return ``"grade"``, ``"fast"`` or ``"full"``.

    nbgrader wins over everything else so that a grader never trains for real.
    """
    if os.environ.get(ENV_NBGRADER):
        return "grade"
    requested = os.environ.get(ENV_MODE, "").strip().lower()
    if not requested:
        return "full"
    if requested not in ("full", "fast"):
        raise ValueError(
            f"환경 변수 {ENV_MODE}는 'full' 또는 'fast'여야 합니다 (받은 값: {requested!r})."
        )
    return requested


def is_offline() -> bool:
    """True when downloads are forbidden: grade mode, or ``DLCOURSE_OFFLINE=1``."""
    return run_mode() == "grade" or os.environ.get(ENV_OFFLINE, "") not in ("", "0")


def data_root() -> Path:
    """Folder that holds the course data sets (``cifar10/``, ``multi30k/``)."""
    return Path(os.environ.get(ENV_DATA_ROOT) or DEFAULT_DATA_ROOT).expanduser().resolve()


def cache_dir() -> Path:
    """Writable folder for decoded data caches (the data root may be read-only)."""
    path = Path(os.environ.get(ENV_CACHE_DIR) or DEFAULT_CACHE_DIR).expanduser().resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (all devices)."""
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed는 0 이상의 정수여야 합니다 (받은 값: {seed!r}).")
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def select_device(mode: str | None = None) -> torch.device:
    """CUDA, then Apple MPS, then CPU in full mode; always CPU when grading (reproducible)."""
    mode = mode or run_mode()
    if mode == "grade":
        return torch.device("cpu")
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


@dataclass(frozen=True)
class Context:
    """What a notebook needs to know about where and how it runs."""

    mode: str
    seed: int
    device: torch.device
    data_root: Path
    notebook_dir: Path = field(default_factory=Path.cwd)

    @property
    def full(self) -> bool:
        return self.mode == "full"

    @property
    def fast(self) -> bool:
        return self.mode == "fast"

    @property
    def grade(self) -> bool:
        return self.mode == "grade"

    def pick(self, full, fast, grade=None):
        """Choose a budget by run mode; grade mode falls back to the fast value."""
        if self.mode == "full":
            return full
        if self.mode == "grade" and grade is not None:
            return grade
        return fast

    def outdir(self, name: str) -> Path:
        """A deliverable folder next to the notebook (e.g. ``feature_visualization``)."""
        if not name or "/" in name or "\\" in name or name.startswith("."):
            raise ValueError(f"출력 폴더 이름이 올바르지 않습니다 (받은 값: {name!r}).")
        path = self.notebook_dir / name
        path.mkdir(parents=True, exist_ok=True)
        return path


def setup(seed: int = 42, *, quiet: bool = False) -> Context:
    """Seed everything, pick the device, and print where and how this notebook runs."""
    mode = run_mode()
    seed_everything(seed)
    device = select_device(mode)
    if device.type == "cuda":
        # Fixed input sizes in this course: let cuDNN pick the fastest kernels.
        torch.backends.cudnn.benchmark = True
    ctx = Context(mode=mode, seed=seed, device=device, data_root=data_root())
    from . import plotting  # every figure of a fast/grade-mode run says so in its title

    plotting.install_mode_hook(mode)
    if not quiet:
        found = "있음" if ctx.data_root.exists() else "없음 - README의 데이터 준비를 보세요"
        print(f"[dlcourse] 실행 모드(run mode): {mode} | 장치(device): {device} | 시드(seed): {seed}")
        print(f"[dlcourse] 데이터 위치(data root): {ctx.data_root} ({found})")
    return ctx

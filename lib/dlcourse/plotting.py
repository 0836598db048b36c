"""Plot helpers: every figure gets a title and labelled axes, and can be saved in one call.

Figure text is English so that it renders with matplotlib's default fonts on every machine.

* Integer quantities (epochs, kernel sizes, steps) get integer ticks: :func:`plot_lines` does it
  by itself when the x values are whole numbers; :func:`integer_ticks` for hand-made axes.
* Panels meant for side-by-side comparison share one y-range: :func:`share_y`.
* A figure made in fast (or grade) mode says so in its title — "(fast mode)" — so that a smoke
  test is never read as a result. :func:`dlcourse.setup` installs :func:`mode_hook` for every
  pyplot figure; :func:`stamp_mode` does it for one figure.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.ticker import MaxNLocator

from . import runtime

HOOK = "dlcourse.plotting:mode_hook"


def mode_label(mode: str | None = None) -> str:
    """" (fast mode)" / " (grade mode)" for a smoke-test run, "" in full mode."""
    mode = mode or runtime.run_mode()
    return "" if mode == "full" else f" ({mode} mode)"


def stamp_mode(fig, mode: str | None = None):
    """Say in ``fig``'s title that it comes from a fast/grade-mode run (once): the suptitle if
    there is one, else every axis title, else a new suptitle."""
    label = mode_label(mode)
    if not label or getattr(fig, "_dlcourse_stamped", False):
        return fig
    fig._dlcourse_stamped = True
    sup = getattr(fig, "_suptitle", None)
    if sup is not None and sup.get_text():
        sup.set_text(sup.get_text() + label)
        return fig
    titled = [ax for ax in fig.axes if ax.get_title()]
    for ax in titled:
        ax.set_title(ax.get_title() + label)
    if not titled:
        fig.suptitle(label.strip(" ()"))
    return fig


def mode_hook(fig) -> None:
    """matplotlib ``figure.hooks`` entry: stamp the figure's title just before it is first drawn
    (shown inline or saved), whatever made it."""
    draw = fig.draw

    def stamped_draw(renderer):
        stamp_mode(fig)
        return draw(renderer)

    fig.draw = stamped_draw


def install_mode_hook(mode: str) -> None:
    """Called by :func:`dlcourse.setup`: stamp every new pyplot figure outside full mode."""
    hooks = [h for h in plt.rcParams.get("figure.hooks", []) if h != HOOK]
    plt.rcParams["figure.hooks"] = hooks + ([HOOK] if mode != "full" else [])


def integer_ticks(ax, axis: str = "x"):
    """Only whole-number ticks on ``axis`` ("x", "y" or "both") of ``ax``."""
    if axis in ("x", "both"):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if axis in ("y", "both"):
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    return ax


def share_y(axes, *, pad: float = 0.0):
    """One y-range for panels meant to be compared side by side (after they are drawn)."""
    axes = [ax for ax in np.ravel(axes)]
    if not axes:
        raise ValueError("share_y에 줄 축(axes)이 없습니다.")
    lo = min(ax.get_ylim()[0] for ax in axes)
    hi = max(ax.get_ylim()[1] for ax in axes)
    span = hi - lo
    for ax in axes:
        ax.set_ylim(lo - pad * span, hi + pad * span)
    return axes


def _whole_numbers(xs) -> bool:
    xs = np.asarray(xs)
    return xs.size > 0 and np.issubdtype(xs.dtype, np.number) and bool(np.all(np.isfinite(xs))) and \
        bool(np.all(np.mod(xs, 1) == 0))


def save_figure(fig, path) -> Path | None:
    """Save ``fig`` as PNG (creating folders); ``path=None`` only shows it."""
    if path is None:
        return None
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    stamp_mode(fig)
    fig.savefig(path, dpi=120, bbox_inches="tight")
    return path


def _to_numpy(x):
    if isinstance(x, torch.Tensor):
        return x.detach().float().cpu().numpy()
    return np.asarray(x)


def plot_lines(series: Mapping[str, Sequence[float]], *, x=None, xlabel: str, ylabel: str, title: str,
               logx: bool = False, logy: bool = False, markers: bool = False, path=None, ax=None):
    """Several named lines on one axis."""
    if not series:
        raise ValueError("그릴 데이터(series)가 비어 있습니다.")
    fig = None
    if ax is None:
        fig, ax = plt.subplots(figsize=(6.4, 4.0))
    whole = True
    for name, ys in series.items():
        ys = _to_numpy(ys)
        xs = np.arange(1, len(ys) + 1) if x is None else _to_numpy(x)
        whole = whole and _whole_numbers(xs)
        ax.plot(xs, ys, marker="o" if markers else None, label=name)
    if whole and not logx:
        integer_ticks(ax, "x")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    if logx:
        ax.set_xscale("log")
    if logy:
        ax.set_yscale("log")
    ax.grid(True, alpha=0.3)
    ax.legend()
    if fig is not None:
        fig.tight_layout()
        save_figure(fig, path)
    return ax.figure


def plot_history(history, *, title: str, path=None):
    """Train/test loss and accuracy per epoch from a :class:`dlcourse.training.History`."""
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(11, 4))
    epochs = history.column("epoch")
    plot_lines({"train": history.column("train_loss"),
                **({"test": history.column("test_loss")} if history.epochs[0].test_loss is not None else {})},
               x=epochs, xlabel="epoch", ylabel="loss", title=f"{title}: loss", markers=True, ax=ax_loss)
    plot_lines({"train": history.column("train_acc"),
                **({"test": history.column("test_acc")} if history.epochs[0].test_acc is not None else {})},
               x=epochs, xlabel="epoch", ylabel="accuracy (%)", title=f"{title}: accuracy", markers=True,
               ax=ax_acc)
    fig.tight_layout()
    save_figure(fig, path)
    return fig


def _panels(n: int, ncols: int, size: tuple[float, float]):
    """A figure of ``n`` panels in rows of ``ncols``; yields (index, axis) for the used panels."""
    ncols = max(1, min(ncols, n))
    nrows = math.ceil(n / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size[0] * ncols, size[1] * nrows + 0.5), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    return fig, list(enumerate(axes.flat))[:n]


def _finish(fig, title: str, path):
    fig.suptitle(title)
    fig.tight_layout()
    save_figure(fig, path)
    return fig


def image_grid(images, *, title: str, titles: Sequence[str] | None = None, ncols: int = 8,
               cmap: str | None = None, normalize_each: bool = True, path=None):
    """A grid of images: ``(N, 3, H, W)`` shown as RGB, ``(N, H, W)`` or ``(N, 1, H, W)`` with ``cmap``."""
    arr = _to_numpy(images).astype(np.float64)
    if arr.ndim == 4 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim not in (3, 4) or (arr.ndim == 4 and arr.shape[1] != 3):
        raise ValueError(f"images는 (N, 3, H, W) 또는 (N, H, W) 모양이어야 합니다 (받은 모양(shape): {arr.shape}).")
    fig, panels = _panels(arr.shape[0], ncols, (1.6, 1.7))
    for i, ax in panels:
        img = arr[i]
        if normalize_each:
            lo, hi = img.min(), img.max()
            img = (img - lo) / (hi - lo + 1e-12)
        if img.ndim == 3:
            img = np.clip(img.transpose(1, 2, 0), 0, 1)
        ax.imshow(img, cmap=cmap if img.ndim == 2 else None)
        if titles is not None:
            ax.set_title(titles[i], fontsize=8)
    return _finish(fig, title, path)


def overlay_heatmaps(images, heatmaps, *, title: str, titles: Sequence[str] | None = None, alpha: float = 0.45,
                     ncols: int = 6, path=None):
    """Heatmaps in [0, 1] ``(N, H, W)`` drawn over RGB images ``(N, 3, H, W)`` (uint8 or float)."""
    imgs = _to_numpy(images).astype(np.float64)
    maps = _to_numpy(heatmaps).astype(np.float64)
    if imgs.ndim != 4 or maps.ndim != 3 or imgs.shape[0] != maps.shape[0] or imgs.shape[2:] != maps.shape[1:]:
        raise ValueError(f"images (N, 3, H, W)와 heatmaps (N, H, W)의 모양이 맞지 않습니다 "
                         f"(받은 모양: {imgs.shape}, {maps.shape}).")
    if imgs.max() > 1.0:
        imgs = imgs / 255.0
    fig, panels = _panels(imgs.shape[0], ncols, (2.0, 2.1))
    for i, ax in panels:
        ax.imshow(np.clip(imgs[i].transpose(1, 2, 0), 0, 1))
        ax.imshow(maps[i], cmap="jet", alpha=alpha, vmin=0.0, vmax=1.0)
        if titles is not None:
            ax.set_title(titles[i], fontsize=8)
    return _finish(fig, title, path)


def bar_chart(values: Mapping[str, float], *, xlabel: str, ylabel: str, title: str, path=None):
    """One bar per named value."""
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    names = list(values)
    ax.bar(names, [float(values[k]) for k in names])
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.tick_params(axis="x", labelrotation=30)
    ax.grid(True, axis="y", alpha=0.3)
    fig.tight_layout()
    save_figure(fig, path)
    return fig


def feature_map_rows(maps: Mapping[str, torch.Tensor], *, title: str, per_row: int = 8, path=None):
    """One row per layer: the first ``per_row`` channels of each ``(C, H, W)`` activation."""
    if not maps:
        raise ValueError("그릴 특성 맵(maps)이 비어 있습니다.")
    names = list(maps)
    fig, axes = plt.subplots(len(names), per_row, figsize=(1.4 * per_row, 1.5 * len(names) + 0.6), squeeze=False)
    for r, name in enumerate(names):
        fmap = _to_numpy(maps[name])
        if fmap.ndim != 3:
            raise ValueError(f"{name}의 특성 맵은 (C, H, W) 모양이어야 합니다 (받은 모양(shape): {fmap.shape}).")
        for c in range(per_row):
            ax = axes[r, c]
            ax.set_xticks([])
            ax.set_yticks([])
            if c < fmap.shape[0]:
                ax.imshow(fmap[c], cmap="viridis")
            if c == 0:
                ax.set_ylabel(f"{name}\n{fmap.shape[1]}x{fmap.shape[2]}", fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    save_figure(fig, path)
    return fig

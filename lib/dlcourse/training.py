"""The course's training loop: progress bars, per-step schedules, mixed precision, checkpoints.

Nothing trains silently: :func:`fit` shows a tqdm bar per epoch and :func:`load_or_train` says
whether it loaded a checkpoint or is training.

In Jupyter a tqdm bar is a widget, and a widget's view does not survive saving: a reopened
notebook (or its feedback HTML) shows "Error displaying widget: model not found" or a stale 0 %
bar. The course's bars (:func:`progress`) are widgets only while they run; when one closes, its
output is replaced by its final line as plain text ("train 1/3: 100%|██████████| 40/40 [00:02, …]"),
so a saved notebook holds no widget view at all.
"""
from __future__ import annotations

import contextlib
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import torch
from torch import nn
from tqdm.auto import tqdm as _auto_tqdm
from tqdm.std import tqdm as _text_tqdm

from .checks import require_positive_int
from .data._common import save_atomic


@dataclass
class EpochRecord:
    epoch: int
    train_loss: float
    train_acc: float
    lr: float
    seconds: float
    test_loss: float | None = None
    test_acc: float | None = None


@dataclass
class History:
    """Per-epoch records plus optional per-step traces (e.g. gradient norms)."""

    epochs: list = field(default_factory=list)
    steps: dict = field(default_factory=dict)

    def column(self, name: str) -> list:
        return [getattr(r, name) for r in self.epochs]

    @property
    def total_seconds(self) -> float:
        return float(sum(r.seconds for r in self.epochs))

    def to_dict(self) -> dict:
        return {"epochs": [asdict(r) for r in self.epochs], "steps": self.steps}

    @classmethod
    def from_dict(cls, d: dict) -> "History":
        return cls(epochs=[EpochRecord(**r) for r in d["epochs"]], steps=d.get("steps", {}))


def _notebook_bar_class():
    """The widget bar class when this process is a Jupyter kernel with ipywidgets (what
    ``tqdm.auto`` picks), else None."""
    try:
        from tqdm.notebook import tqdm_notebook
    except ImportError:  # pragma: no cover - ipywidgets missing
        return None
    return tqdm_notebook if issubclass(_auto_tqdm, tqdm_notebook) else None


def _final_line(bar) -> str:
    """The bar's last state as one line of text (what a console tqdm would leave)."""
    d = dict(bar.format_dict)
    d["ncols"] = 100
    return _text_tqdm.format_meter(**d)


_BAR_CLASS = None


def _bar_class():
    global _BAR_CLASS
    if _BAR_CLASS is None:
        base = _notebook_bar_class()
        if base is None:
            _BAR_CLASS = _text_tqdm
        else:
            class NotebookBar(base):
                """A widget while it runs; on close, its output becomes its final text line."""

                def __init__(self, *args, **kwargs):
                    kwargs["display"] = False
                    super().__init__(*args, **kwargs)
                    self._handle = None
                    if not self.disable:
                        from IPython.display import display
                        self._handle = display(self.container, display_id=True)
                        self.displayed = True

                def close(self):
                    if self.disable or getattr(self, "_closed_as_text", False):
                        return super().close()
                    self._closed_as_text = True
                    super().close()
                    if self._handle is not None:
                        from IPython.display import Pretty
                        self._handle.update(Pretty(_final_line(self)))
                        try:
                            self.container.close()  # the widget model goes too: nothing to save
                        except Exception:  # noqa: BLE001 - already closed
                            pass

            _BAR_CLASS = NotebookBar
    return _BAR_CLASS


def progress(iterable=None, desc: str = "", **kwargs):
    """A progress bar (tqdm) for hand-written training loops: a widget in Jupyter that leaves
    its final line as text when done (readable after the notebook is saved and reopened), a
    text bar elsewhere that disappears when done."""
    cls = _bar_class()
    if cls is _text_tqdm:
        kwargs.setdefault("leave", False)
    return cls(iterable, desc=desc, **kwargs)


def _autocast(device: torch.device, enabled: bool):
    # bf16 needs no GradScaler; on CPU autocast is slower than fp32, so only CUDA uses it.
    if enabled and device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


@torch.no_grad()
def evaluate(model: nn.Module, batches: Iterable, device, loss_fn: Callable | None = None,
             amp: bool = True) -> tuple[float, float]:
    """Mean loss and accuracy (%) of a classifier over ``batches`` of ``(x, y)``."""
    device = torch.device(device)
    loss_fn = loss_fn or nn.CrossEntropyLoss()
    model.eval()
    total, correct, loss_sum = 0, 0, 0.0
    for x, y in batches:
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        with _autocast(device, amp):
            logits = model(x)
        loss_sum += float(loss_fn(logits.float(), y)) * y.shape[0]
        correct += int((logits.argmax(1) == y).sum())
        total += y.shape[0]
    if total == 0:
        raise ValueError("평가할 배치가 없습니다 (batches가 비어 있습니다).")
    return loss_sum / total, 100.0 * correct / total


def optimizer_step(model: nn.Module, loss: torch.Tensor, optimizer: torch.optim.Optimizer,
                   grad_clip: float | None = None, scheduler=None) -> None:
    """One update: backward, optional clipping of the global gradient norm, step, schedule."""
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if grad_clip is not None:
        nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
    optimizer.step()
    if scheduler is not None:
        scheduler.step()


def fit(model: nn.Module, train_batches: Iterable, *, epochs: int, optimizer: torch.optim.Optimizer,
        device, loss_fn: Callable | None = None, scheduler=None, eval_batches: Iterable | None = None,
        amp: bool = True, grad_clip: float | None = None, desc: str = "train",
        max_steps: int | None = None) -> History:
    """Train a classifier and return its :class:`History`.

    Inputs:
        train_batches / eval_batches: iterables of ``(x, y)`` (re-iterated every epoch).
        scheduler: stepped after every optimiser step (per-step schedules such as warm-up + cosine).
        grad_clip: if given, clip the global gradient norm to this value.
        max_steps: stop early after this many optimiser steps (grade mode budgets).
    """
    require_positive_int(epochs, "epochs")
    device = torch.device(device)
    loss_fn = loss_fn or nn.CrossEntropyLoss()
    history = History()
    step = 0
    for epoch in range(1, epochs + 1):
        model.train()
        start = time.perf_counter()
        total, correct, loss_sum = 0, 0, 0.0
        bar = progress(train_batches, desc=f"{desc} {epoch}/{epochs}")
        for x, y in bar:
            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            with _autocast(device, amp):
                logits = model(x)
                loss = loss_fn(logits.float(), y)
            optimizer_step(model, loss, optimizer, grad_clip, scheduler)
            loss_sum += float(loss.detach()) * y.shape[0]
            correct += int((logits.argmax(1) == y).sum())
            total += y.shape[0]
            step += 1
            bar.set_postfix(loss=f"{loss_sum / total:.3f}", acc=f"{100.0 * correct / total:.1f}%")
            if max_steps is not None and step >= max_steps:
                break
        record = EpochRecord(epoch=epoch, train_loss=loss_sum / max(total, 1),
                             train_acc=100.0 * correct / max(total, 1),
                             lr=float(optimizer.param_groups[0]["lr"]), seconds=0.0)
        if eval_batches is not None:
            record.test_loss, record.test_acc = evaluate(model, eval_batches, device, loss_fn, amp)
        record.seconds = time.perf_counter() - start
        history.epochs.append(record)
        test = f", test acc {record.test_acc:.2f}%" if record.test_acc is not None else ""
        print(f"[{desc}] epoch {epoch}/{epochs}: train loss {record.train_loss:.4f}, "
              f"train acc {record.train_acc:.2f}%{test} ({record.seconds:.1f}s)")
        if max_steps is not None and step >= max_steps:
            break
    return history


def load_or_train(path, model: nn.Module, train: Callable[[], History], *, meta: dict | None = None,
                  enabled: bool = True) -> History:
    """Load ``model`` and its history from ``path`` if it was trained with the same ``meta``;
    otherwise call ``train()`` and save a checkpoint.

    ``enabled=False`` (grade mode) always trains and never reads or writes a file.
    """
    path = Path(path)
    meta = json.loads(json.dumps(meta or {}, default=str))  # comparable, JSON-safe
    if enabled and path.exists():
        blob = torch.load(path, map_location="cpu", weights_only=False)
        if blob.get("meta") == meta:
            model.load_state_dict(blob["state_dict"])
            print(f"[dlcourse] 체크포인트를 불러왔습니다 (loaded checkpoint): {path}")
            return History.from_dict(blob["history"])
        print(f"[dlcourse] 설정이 바뀌어 체크포인트를 다시 만듭니다 (config changed): {path}")
    print("[dlcourse] 학습을 시작합니다 (training).")
    history = train()
    if enabled:
        state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
        save_atomic({"meta": meta, "state_dict": state, "history": history.to_dict()}, path)
        print(f"[dlcourse] 체크포인트 저장 (saved checkpoint): {path}")
    return history

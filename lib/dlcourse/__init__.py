"""dlcourse - the shared library of "Phase 2 — 딥러닝 심화와 트랜스포머".

Student-facing parts: run mode / seeding / device (:mod:`runtime`), data loaders (:mod:`data`),
the training loop (:mod:`training`), plot helpers (:mod:`plotting`) and check helpers
(:mod:`checks`), model inspection (:mod:`inspect`). Instructor-only parts (reference solutions,
hidden checks, grading tools) live in a subpackage that the student build leaves out.
"""
from . import bench, checks, data, inspect, nmt, plotting, posenc, runtime, subword, textclf, training
from .checks import CheckFailed, assert_close, assert_shape, assert_true, check_gradients, count_parameters, part
from .runtime import Context, run_mode, seed_everything, select_device, setup

__version__ = "0.1.0"

__all__ = [
    "bench", "checks", "data", "inspect", "nmt", "plotting", "posenc", "runtime", "subword", "textclf", "training",
    "CheckFailed", "assert_close", "assert_shape", "assert_true", "check_gradients", "count_parameters", "part",
    "Context", "run_mode", "seed_everything", "select_device", "setup",
]

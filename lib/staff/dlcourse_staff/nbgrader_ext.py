"""nbgrader plug-ins of the course.

:class:`GradeExecute` replaces nbgrader's ``Execute`` when autograding. The student's code runs in
a sandboxed kernel (:mod:`dlcourse_staff.sandbox`); the hidden checks run *here*, in the grader's
process, and ask that kernel for plain results through the probe protocol
(:mod:`dlcourse_staff.probe`). The grader writes every test cell's outcome itself: nothing the
kernel prints, raises or replies can mark a test as passed. Only the cells autograding needs are
executed — the code cells up to the last autograded test cell — and the cells after it keep the
student's own outputs (their full-mode figures), like a written report.

:class:`ClearGradedOutputs` (sanitising) clears the outputs of the cells that will run and caps
the rest; :class:`ScrubFeedback` (feedback) removes hidden-test regions and reduces tracebacks of
graded cells to their Korean verdict; :class:`RestoreCells` is nbgrader's ``OverwriteCells`` with
a working ``add_missing_cells`` for this course's layout.
"""
from __future__ import annotations

import ast
import asyncio
import importlib.util
import json
import os
import re
import shutil
import signal
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from queue import Empty

from jupyter_client.manager import AsyncKernelManager
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbconvert.preprocessors import Preprocessor
from nbformat.notebooknode import NotebookNode
from nbgrader.preprocessors import Execute, OverwriteCells
from traitlets import Bool, Integer, Unicode

HIDDEN_REGION = re.compile(r"^[ \t]*#+ *BEGIN HIDDEN TESTS.*?^[ \t]*#+ *END HIDDEN TESTS[^\n]*\n?", re.S | re.M)
PLACEHOLDER = "# (숨겨진 검사: 내용은 공개되지 않습니다 / hidden checks are not shown)\n"
SECRET_MARKERS = ("dlcourse_staff", "staff/dlcourse_staff", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS")
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def scrub_source(source: str) -> str:
    return HIDDEN_REGION.sub(PLACEHOLDER, source)


def _is_secret(text: str) -> bool:
    return any(marker in text for marker in SECRET_MARKERS)


def _path_prefixes() -> list[str]:
    """Absolute folders of the grader's machine that must not appear in feedback, longest first."""
    import tempfile

    here = Path(__file__).resolve()
    prefixes = {str(here.parents[3]), str(here.parents[2]), sys.prefix, sys.base_prefix, sys.exec_prefix,
                os.path.expanduser("~"), tempfile.gettempdir(), os.getcwd()}
    try:
        from dlcourse import runtime

        prefixes |= {str(runtime.data_root()), str(runtime.cache_dir())}
    except Exception:  # noqa: BLE001 - feedback goes on without them
        pass
    return sorted({p.rstrip(os.sep) for p in prefixes if p and p != os.sep}, key=len, reverse=True)


LIBRARY_PATH = re.compile(r"(?:/[^\s/:'\"()<>]+)+/(?=(?:lib/)?dlcourse/|site-packages/|python3\.\d+/)")


def relative_paths(text: str, prefixes: list[str] | None = None) -> str:
    """``text`` without absolute paths of the grader's machine: the course's folders, the Python
    installation, temporary folders and the library become relative (``dlcourse/checks.py``)."""
    text = LIBRARY_PATH.sub("", text)
    for prefix in prefixes if prefixes is not None else _path_prefixes():
        text = text.replace(prefix + os.sep, "").replace(prefix, "…")
    return text


def _student_frames(frames: list[str]) -> list[str]:
    """A traceback as a student should read it: the header, the student's own cells ("Cell In[…]")
    and the exception; the frames of library files (the check helpers, contextlib, torch) go."""
    kept = [f for f in frames if not f.lstrip().startswith("File ")]
    return kept if len(kept) >= 1 else frames


def scrub_outputs(outputs, *, graded: bool):
    """Drop secret lines from text outputs; reduce tracebacks to their last line in graded cells,
    to the student's frames elsewhere; no absolute path of the grader's machine anywhere."""
    prefixes = _path_prefixes()
    for out in outputs:
        if out.get("output_type") == "error":
            frames = [ANSI.sub("", f) for f in out.get("traceback", [])]
            if graded:
                out["traceback"] = [f"{out.get('ename', 'Error')}: {out.get('evalue', '')}"]
            else:
                out["traceback"] = [f for f in _student_frames(frames) if not _is_secret(f)]
            if _is_secret(str(out.get("evalue", ""))):
                out["evalue"] = "(숨겨진 검사 내부 정보는 표시하지 않습니다)"
                out["traceback"] = [f"{out.get('ename', 'Error')}: {out['evalue']}"]
            out["evalue"] = relative_paths(str(out.get("evalue", "")), prefixes)
            out["traceback"] = [relative_paths(f, prefixes) for f in out["traceback"]]
        elif out.get("output_type") == "stream":
            text = out.get("text", "")
            if _is_secret(text):
                text = "".join(line for line in text.splitlines(True) if not _is_secret(line))
            out["text"] = relative_paths(text, prefixes)
        elif out.get("output_type") in ("execute_result", "display_data"):
            data = out.get("data", {})
            for mime in list(data):
                if mime.startswith("text/") and _is_secret(str(data[mime])):
                    del data[mime]
                elif mime == "text/plain":
                    data[mime] = relative_paths(str(data[mime]), prefixes)
    return outputs


# --- the feedback page: offline MathJax, wrapped lines -----------------------------------------
TEMPLATES = Path(__file__).with_name("templates")
WRAP_CSS = """
/* dlcourse: long verdict and traceback lines wrap instead of being cut at the box edge */
div.output_area pre, div.output_subarea pre, .output_error pre, .output_stream pre, pre {
  white-space: pre-wrap !important; word-break: break-word; overflow-wrap: anywhere;
}
div.output_subarea { max-width: 100%; overflow-x: visible; }
"""


def mathjax_script() -> str:
    """MathJax 3 (SVG output: no font files to fetch) as inline JavaScript, from the pinned
    ``django-static-mathjax`` package."""
    spec = importlib.util.find_spec("mathjax")
    folders = list(spec.submodule_search_locations or []) if spec else []
    for folder in folders:
        path = Path(folder) / "static" / "mathjax" / "es5" / "tex-svg.js"
        if path.exists():
            return path.read_text(encoding="utf-8").replace("</", "<\\/")
    raise FileNotFoundError("MathJax 3 (django-static-mathjax, requirements.txt) is not installed")


def offline_head(_value="") -> str:
    """What the feedback page's head gets instead of the CDN MathJax: the wrapping CSS, MathJax's
    configuration ($…$ and $$…$$ as in the notebooks) and MathJax itself, inline."""
    config = ("window.MathJax = {tex: {inlineMath: [['$', '$'], ['\\\\(', '\\\\)']], "
              "displayMath: [['$$', '$$'], ['\\\\[', '\\\\]']], processEscapes: true}, "
              "svg: {fontCache: 'global'}};")
    return (f"<style type=\"text/css\">{WRAP_CSS}</style>\n<script>{config}</script>\n"
            f"<script>{mathjax_script()}</script>")


try:
    from nbconvert.exporters import HTMLExporter as _HTMLExporter

    class FeedbackExporter(_HTMLExporter):
        """nbgrader's feedback page for this course (template ``dlcourse_feedback``): works offline
        (MathJax inlined) and wraps long lines."""

        def default_filters(self):
            yield from super().default_filters()
            yield ("dlcourse_offline_head", offline_head)
except ImportError:  # pragma: no cover
    FeedbackExporter = None


# Run in the kernel after a cell that failed: the frames of the last error outlive the cell through
# sys.last_traceback, so a memory bomb stopped by MemoryError would keep what it grabbed and starve
# every later cell. (Code of the grader's run in the kernel: it can only help the student.)
CLEANUP = '__import__("traceback").clear_frames(getattr(__import__("sys"), "last_traceback", None))'

class ScrubFeedback(Preprocessor):
    """Hide hidden tests and the hidden-check package from generated feedback."""

    enabled = Bool(True, help="nbconvert runs only enabled preprocessors").tag(config=True)

    def preprocess_cell(self, cell, resources, index):
        graded = bool(cell.get("metadata", {}).get("nbgrader", {}).get("grade"))
        cell.source = scrub_source(cell.source)
        if cell.cell_type == "code":
            scrub_outputs(cell.get("outputs", []), graded=graded)
        return cell, resources


# ============================================================================================
# What the grader runs
# ============================================================================================
SANDBOX = Path(__file__).with_name("sandbox.py")
STAFF_DIR = Path(__file__).resolve().parent
# Kernel environment variables that could carry credentials (a PostgreSQL gradebook's URL, …).
SECRET_ENV = re.compile(r"(PASSW|SECRET|TOKEN|CREDENTIAL|DATABASE_URL|DB_URL|^PG|^AWS_|^JPY_API|^SLURM|"
                        r"^JOB_COMPLETION|^KUBERNETES)", re.I)
STATUS_ORDER = {"graded": 0, "timed out": 1, "failed": 2}
PRELOAD = ["numpy", "torch", "torch._dynamo", "matplotlib", "dlcourse"]


def _meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def is_test_cell(cell) -> bool:
    m = _meta(cell)
    return cell.get("cell_type") == "code" and bool(m.get("grade")) and not m.get("solution")


def parse_hidden(source: str) -> tuple[str, list[str]] | None:
    """(grade_id, names) of the one ``hidden.check("<id>", Name, …)`` call in a test cell's hidden
    region; None when the region is missing or is not that call."""
    match = HIDDEN_REGION.search(source)
    if not match:
        return None
    try:
        tree = ast.parse("\n".join(l for l in match.group(0).splitlines() if not l.lstrip().startswith("#")))
    except SyntaxError:
        return None
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "check" \
                and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str) \
                and all(isinstance(a, ast.Name) for a in node.args[1:]) and not node.keywords:
            return node.args[0].value, [a.id for a in node.args[1:]]
    return None


@dataclass
class Plan:
    """Which cells autograding runs: code cells up to the last autograded test cell; the test
    cells' checks run in the grader."""

    last: int = -1
    tests: dict = field(default_factory=dict)     # cell index → (grade_id, names) or None

    @classmethod
    def of(cls, nb) -> "Plan":
        plan = cls()
        for index, cell in enumerate(nb.cells):
            if is_test_cell(cell):
                plan.tests[index] = parse_hidden(cell.get("source", ""))
                plan.last = index
        return plan

    def runs(self, index: int) -> bool:
        return index <= self.last


class ClearGradedOutputs(Preprocessor):
    """Sanitising for autograding: clear the outputs of every cell that will run (those up to the
    last autograded test cell), keep the student's own outputs of the cells after it, capped."""

    enabled = Bool(True).tag(config=True)
    max_kept_bytes = Integer(20 * 2 ** 20, help="Bytes of the student's kept outputs per notebook.").tag(config=True)
    max_output_bytes = Integer(4 * 2 ** 20, help="Bytes of one kept output.").tag(config=True)

    def preprocess(self, nb, resources):
        plan = Plan.of(nb)
        kept = 0
        for index, cell in enumerate(nb.cells):
            if cell.get("cell_type") != "code":
                continue
            if plan.runs(index):
                cell.outputs = []
                cell.execution_count = None
                continue
            outputs = []
            for out in cell.get("outputs", []):
                size = len(json.dumps(out))
                if size > self.max_output_bytes or kept + size > self.max_kept_bytes:
                    outputs.append(NotebookNode(output_type="stream", name="stdout",
                                                text="(채점 중 생략된 큰 출력 / large output omitted while grading)\n"))
                    continue
                kept += size
                outputs.append(out)
            cell.outputs = outputs
        return nb, resources


def sandbox_support() -> dict:
    """What this machine's kernel offers: the Landlock ABI and whether seccomp filters work."""
    sys.path.insert(0, str(STAFF_DIR))
    try:
        spec = importlib.util.spec_from_file_location("_dlcourse_sandbox_probe", SANDBOX)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(STAFF_DIR))
    abi = module.landlock_abi()
    return {"landlock_abi": abi, "read": abi >= 1, "write": abi >= 1, "tcp": abi >= 4, "signals": abi >= 6,
            "ptrace": abi >= 1, "seccomp": sys.platform.startswith("linux")}


def sandbox_summary(applied: dict | None, sandboxed: bool) -> str:
    """One line for reports and exports."""
    if not sandboxed:
        return "UNSANDBOXED (--unsandboxed)"
    if not applied:
        return "sandbox: unknown"
    ll = applied.get("landlock") or {}
    if "error" in ll:
        return f"sandbox FAILED: {ll['error']}"
    parts = [f"Landlock ABI {ll.get('abi')}: read+write limited"]
    if ll.get("tcp"):
        parts.append("TCP connect refused")
    if ll.get("signals"):
        parts.append("signals scoped")
    sc = applied.get("seccomp") or {}
    parts.append("seccomp: no processes" if "error" not in sc else f"seccomp FAILED: {sc['error']}")
    return "; ".join(parts)


class SandboxKernelManager(AsyncKernelManager):
    """Starts the kernel through ``sandbox.py`` with the policy :class:`GradeExecute` prepared:
    limits, Landlock, seccomp, preloaded libraries, a private temporary folder, a clean
    environment."""

    policy: dict | None = None

    async def _async_launch_kernel(self, kernel_cmd, **kw):
        policy = self.policy
        if policy is not None:
            if len(kernel_cmd) < 3 or kernel_cmd[1] != "-m":
                raise RuntimeError(f"채점 커널 명령을 감쌀 수 없습니다 (cannot sandbox kernel command {kernel_cmd!r})")
            env = dict(kw.get("env") or os.environ)
            for key in [k for k in env if SECRET_ENV.search(k)]:
                del env[key]
            env.update(policy["kernel_env"])
            for key, value in policy["env"].items():
                if value is None:
                    env.pop(key, None)
            kw["env"] = env
            if "-f" in kernel_cmd:
                policy = dict(policy, read_files=[*policy.get("read_files", []), kernel_cmd[kernel_cmd.index("-f") + 1]])
            policy_path = Path(policy["dir"]) / "policy.json"
            policy_path.write_text(json.dumps(policy, ensure_ascii=False), encoding="utf-8")
            kernel_cmd = [kernel_cmd[0], str(SANDBOX), str(policy_path), "--", *kernel_cmd[1:]]
        return await super()._async_launch_kernel(kernel_cmd, **kw)


def _error_output(ename: str, evalue: str) -> NotebookNode:
    return NotebookNode(output_type="error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"])


def _db_files(db_url: str) -> list[str]:
    if not db_url.startswith("sqlite:///"):
        return []
    path = db_url[len("sqlite:///"):].split("?", 1)[0]
    path = os.path.abspath(path)
    return [path, path + "-wal", path + "-shm", path + "-journal"]


def _student_lib() -> str | None:
    spec = importlib.util.find_spec("dlcourse")
    locations = list(spec.submodule_search_locations or []) if spec else []
    return str(Path(locations[0]).resolve()) if locations else None


# A kernel started ahead of time for the next notebook this process grades (one per worker): its
# process boots while the current notebook is graded. It knows nothing of any student until it
# is used: the submission's files are then copied into its private folder, its working directory.
_SPARE: dict | None = None


class GradeExecute(Execute):
    """nbgrader's ``Execute`` for this course: the kernel runs the student's code, the grader runs
    the checks (see the module docstring). Limits: per cell (``timeout``), per notebook
    (``notebook_timeout``), memory, output size; a kernel that hangs or dies stops this notebook
    only (the cells not run score 0) and the report says why. With ``warm_kernels`` the next
    notebook's kernel is started while this one is graded."""

    notebook_timeout = Integer(600, help="Wall-clock limit for one notebook, in seconds (0: none).").tag(config=True)
    memory_limit_mb = Integer(4096, help="Memory limit of the kernel (data segment), in MiB (0: none).").tag(config=True)
    sandbox = Bool(True, help="Confine the kernel with Landlock and seccomp (False: --unsandboxed).").tag(config=True)
    max_output_chars = Integer(200_000, help="Characters of output kept per cell while it runs.").tag(config=True)
    report_dir = Unicode("", help="Folder for the per-notebook grading reports (JSON).").tag(config=True)
    kernel_threads = Integer(1, help="Threads the kernel computes with (OMP/MKL).").tag(config=True)
    warm_kernels = Bool(True, help="Start the next notebook's kernel while this one is graded.").tag(config=True)
    check_timeout = Integer(120, help="Seconds one test cell's hidden check may take, probes included "
                                      "(0: the cell timeout).").tag(config=True)

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("kernel_manager_class", SandboxKernelManager)
        super().__init__(*args, **kwargs)
        self.shutdown_kernel = "immediate"   # a graceful shutdown costs seconds and proves nothing
        self.startup_timeout = max(self.startup_timeout, 180)  # a busy machine boots torch slowly

    # --- nbclient hooks ----------------------------------------------------------------------
    def _get_timeout(self, cell):
        return getattr(self, "_cell_timeout", None) or super()._get_timeout(cell)

    async def _async_handle_timeout(self, timeout, cell=None):
        self._timeout_hit = True
        return await super()._async_handle_timeout(timeout, cell)

    def create_kernel_manager(self):
        km = super().create_kernel_manager()
        if isinstance(km, SandboxKernelManager):
            km.policy = getattr(self, "_policy", None)
        return km

    def output(self, outs, msg, display_id, cell_index):
        content = msg.get("content", {})
        size = len(content.get("text", "")) + sum(len(str(v)) for v in content.get("data", {}).values())
        self._output_used = getattr(self, "_output_used", 0) + size
        if msg["msg_type"] in ("stream", "display_data", "execute_result", "update_display_data") and \
                self._output_used > self.max_output_chars:
            if not getattr(self, "_output_capped", False):
                self._output_capped = True
                outs.append(NotebookNode(output_type="stream", name="stdout",
                                         text=f"\n… 출력이 {self.max_output_chars:,}자를 넘어 나머지는 버렸습니다 "
                                              "(output truncated while grading).\n"))
            return None
        return super().output(outs, msg, display_id, cell_index)

    # --- the run -------------------------------------------------------------------------------
    def preprocess(self, nb, resources=None, km=None):
        from nbclient import NotebookClient

        NotebookClient.__init__(self, nb, km)
        self.reset_execution_trackers()
        self._check_assign_resources(resources)
        info = (resources or {}).get("nbgrader", {})
        started = time.monotonic()
        self._deadline = started + self.notebook_timeout if self.notebook_timeout else None
        self._status, self._reason, self._stop = "graded", "", None
        self._cell_timeouts, self._checks, self._memory, self._applied = [], [], {}, None
        self._transport = None
        plan = Plan.of(self.nb)
        self._sources = {_meta(c).get("grade_id"): c.source for c in self.nb.cells
                         if c.get("cell_type") == "code" and _meta(c).get("solution") and _meta(c).get("grade_id")}
        cwd = Path((resources or {}).get("metadata", {}).get("path") or ".").resolve()
        spare = self._take_spare(cwd)
        workdir = spare["workdir"] if spare else Path(tempfile.mkdtemp(prefix="dlcourse-grade-"))
        try:
            self._policy = spare["policy"] if spare else self._make_policy(workdir, resources or {})
            if spare:
                self.km = spare["km"]
            self._phases = {"kernel_start": 0.0, "cells": 0.0, "checks": 0.0}
            t_start = time.perf_counter()
            try:
                with self.setup_kernel():
                    assert self.kc is not None
                    info_msg = self.wait_for_reply(self.kc.kernel_info())
                    self._phases["kernel_start"] = time.perf_counter() - t_start
                    self._phases["warm"] = bool(spare)
                    if self.warm_kernels:
                        self._start_spare()
                    if info_msg is None:
                        raise RuntimeError("커널이 kernel_info에 답하지 않았습니다 (kernel did not answer kernel_info)")
                    self.nb.metadata["language_info"] = info_msg["content"]["language_info"]
                    self._applied = self._read_applied()
                    from .probe import KernelTransport

                    self._transport = KernelTransport(self.km)
                    try:
                        for index, cell in enumerate(self.nb.cells):
                            if not plan.runs(index):
                                break
                            if cell.cell_type != "code":
                                continue
                            t_cell = time.perf_counter()
                            if index in plan.tests:
                                self._grade_cell(cell, index, plan.tests[index])
                                self._phases["checks"] += time.perf_counter() - t_cell
                            else:
                                self._run_cell(cell, index)
                                self._phases["cells"] += time.perf_counter() - t_cell
                                if self._transport.setup_rss is None and self._stop is None:
                                    self._transport.setup_rss = self._rss()
                        if self._stop is None:
                            self._memory = self._kernel_memory()
                    finally:
                        self._transport.close()
            except (RuntimeError, DeadKernelError, TimeoutError) as err:
                # the kernel did not start (e.g. the sandbox was required but refused)
                self._applied = self._applied or self._read_applied()
                why = sandbox_summary(self._applied, self.sandbox) if self._applied else f"{type(err).__name__}: {err}"
                self._set_status("failed", f"채점 커널을 시작할 수 없습니다 (kernel did not start): {why}"[:400])
                for index, cell in enumerate(self.nb.cells):
                    if plan.runs(index) and cell.cell_type == "code":
                        cell.outputs = [_error_output("NotExecuted", "실행되지 않았습니다 (not executed): 채점 커널을 시작할 수 없습니다")]
        finally:
            self._policy = None
            shutil.rmtree(workdir, ignore_errors=True)
        report = self._finish(info, time.monotonic() - started)
        self._write_report(report)
        return self.nb, self.resources

    def _label(self, cell, index) -> str:
        return _meta(cell).get("grade_id") or cell.get("id") or f"cell {index}"

    # --- warm kernels --------------------------------------------------------------------------
    def _kernel(self) -> str:
        return self.kernel_name or self.nb.metadata.get("kernelspec", {}).get("name", "") or "python3"

    def _spare_key(self) -> tuple:
        return (self.sandbox, self.memory_limit_mb, self.notebook_timeout, self.kernel_threads, self._kernel(),
                os.environ.get("DLCOURSE_DATA_ROOT"), os.environ.get("DLCOURSE_CACHE_DIR"))

    def _start_spare(self) -> None:
        """Launch a kernel for the next notebook; it boots while this one is graded."""
        global _SPARE
        if _SPARE is not None:
            return
        workdir = Path(tempfile.mkdtemp(prefix="dlcourse-grade-"))
        work = workdir / "tmp" / "work"
        try:
            policy = self._make_policy(workdir, {"metadata": {"path": str(work)}})
            work.mkdir(parents=True, exist_ok=True)
            policy["write_roots"] = [str(workdir / "tmp")]
            km = self.kernel_manager_class(kernel_name=self._kernel(), config=self.config)
            km.policy = policy
            extra = list(self.extra_arguments) or ["--HistoryManager.hist_file=:memory:"]
            self._run(km.start_kernel(extra_arguments=extra, cwd=str(work)))
        except Exception:  # noqa: BLE001 - no spare: the next notebook starts its own kernel
            shutil.rmtree(workdir, ignore_errors=True)
            return
        _SPARE = {"km": km, "workdir": workdir, "policy": policy, "work": work, "key": self._spare_key()}

    def _take_spare(self, cwd: Path) -> dict | None:
        """The spare kernel, with this submission's files copied into its working folder; None
        when there is none or it was started with other settings."""
        global _SPARE
        spare, _SPARE = _SPARE, None
        if spare is None:
            return None
        if spare["key"] != self._spare_key() or not self._run(spare["km"].is_alive()):
            self._discard(spare)
            return None
        try:
            for item in cwd.iterdir():
                if item.name in (".ipynb_checkpoints",) or item.is_symlink():
                    continue
                target = spare["work"] / item.name
                if item.is_dir():
                    shutil.copytree(item, target, symlinks=False, dirs_exist_ok=True)
                else:
                    shutil.copy2(item, target)
        except OSError:
            self._discard(spare)
            return None
        return spare

    def _discard(self, spare: dict) -> None:
        try:
            self._run(spare["km"].shutdown_kernel(now=True))
        except Exception:  # noqa: BLE001
            pass
        shutil.rmtree(spare["workdir"], ignore_errors=True)

    def _not_run(self, cell) -> bool:
        if self._stop is not None:
            cell.outputs = [_error_output("NotExecuted", f"실행되지 않았습니다 (not executed): {self._stop}")]
            return True
        return False

    def _remaining(self):
        return None if self._deadline is None else self._deadline - time.monotonic()

    def _run_cell(self, cell, index) -> None:
        if not cell.source.strip() or self._not_run(cell):
            return
        label = self._label(cell, index)
        remaining = self._remaining()
        if remaining is not None and remaining <= 1:
            self._stop = f"노트북 제한 시간 {self.notebook_timeout}초를 넘었습니다 (notebook time limit)"
            self._set_status("timed out", f"{label} 이전에 노트북 제한 시간 {self.notebook_timeout}초를 넘었습니다")
            self._not_run(cell)
            return
        limit = self.timeout or None
        by_notebook = remaining is not None and (limit is None or remaining < limit)
        self._cell_timeout = int(max(1, remaining if by_notebook else limit)) if (limit or remaining) else None
        what = (f"노트북 전체 제한 시간 {self.notebook_timeout}초를 넘었습니다 (notebook time limit)" if by_notebook
                else f"셀 제한 시간 {self.timeout}초를 넘었습니다 (cell time limit)")
        self.error_on_timeout = {"ename": "CellTimeoutError", "evalue": what, "traceback": [f"CellTimeoutError: {what}"]}
        self._timeout_hit, self._output_used, self._output_capped = False, 0, False
        try:
            self.execute_cell(cell, index, store_history=True)
        except CellTimeoutError:
            # The interrupt did not bring the kernel back (the cell swallows KeyboardInterrupt).
            cell.outputs.append(_error_output("CellTimeoutError", f"{what} 인터럽트에도 응답하지 않아 커널을 멈췄습니다 "
                                                                  "(kernel ignored the interrupt and was stopped)"))
            self._stop = f"{label}에서 커널이 응답하지 않아 멈췄습니다"
            self._set_status("timed out", f"{label}: {what}; 인터럽트를 무시해 커널을 멈췄고 이후 셀은 실행하지 않았습니다")
            self._kill_kernel()
            return
        except DeadKernelError:
            code = self._exit_code()
            cell.outputs.append(_error_output("DeadKernelError", f"커널이 종료되었습니다 (kernel died{code})"))
            self._stop = f"{label}에서 커널이 종료되었습니다"
            self._set_status("failed", f"{label}에서 커널이 종료되었습니다 (kernel died{code}); 이후 셀은 실행하지 않았습니다")
            return
        finally:
            self._cell_timeout = None
        if self._timeout_hit:
            self._cell_timeouts.append(label)
            if by_notebook:
                self._stop = f"노트북 제한 시간 {self.notebook_timeout}초를 넘었습니다"
            self._set_status("timed out", f"{label}: {what}")
        if any(o.get("output_type") == "error" for o in cell.outputs):
            self._cleanup(index)

    def _cleanup(self, index) -> None:
        """After a failed cell: free the frames of its error (see ``CLEANUP``); a kernel that no
        longer answers is found here rather than at the next cell."""
        if self.kc is None:
            return
        msg_id = self.kc.execute(CLEANUP, silent=True, store_history=False)
        deadline = time.monotonic() + 20
        while True:
            try:
                msg = self._run(self.kc.shell_channel.get_msg(timeout=1))
            except Empty:
                if not self._run(self.km.is_alive()):
                    self._stop = "커널이 종료되었습니다"
                    self._set_status("failed", f"셀 {index} 뒤에 커널이 종료되었습니다 (kernel died{self._exit_code()})")
                    return
                if time.monotonic() > deadline:
                    self._stop = "커널이 응답하지 않습니다"
                    self._set_status("timed out", f"셀 {index} 뒤에 커널이 20초 동안 응답하지 않았습니다")
                    self._kill_kernel()
                    return
                continue
            if msg.get("parent_header", {}).get("msg_id") == msg_id:
                return

    def _grade_cell(self, cell, index, parsed) -> None:
        """A test cell: its check runs here against the kernel; the outcome is written here."""
        from .hidden import grade
        from .probe import KernelLost

        if self._not_run(cell):
            return
        label = self._label(cell, index)
        if parsed is None:
            cell.outputs = [_error_output("CheckFailed", "숨겨진 검사를 읽을 수 없습니다 (the test cell has no hidden.check call)")]
            return
        grade_id, names = parsed
        remaining = self._remaining()
        limit = self.check_timeout or self.timeout or None
        budget = min(x for x in (limit, remaining) if x is not None) if (limit or remaining) else None
        deadline = None if budget is None else time.monotonic() + max(1.0, budget)
        t0 = time.perf_counter()
        try:
            verdict = grade(grade_id, names, self._transport, deadline=deadline, sources=self._sources)
        except KernelLost as lost:
            alive = self._transport.alive()
            message = f"{lost.reason} — 이 부분은 0점입니다."
            cell.outputs = [_error_output("CheckFailed", message)]
            self._checks.append({"grade_id": grade_id, "passed": False, "seconds": round(time.perf_counter() - t0, 3)})
            if lost.status == "timed out":
                self._cell_timeouts.append(label)
            self._set_status(lost.status if lost.status in STATUS_ORDER else "failed", f"{label}: {lost.reason}")
            if not alive:
                self._stop = f"{label}에서 커널이 종료되었습니다"
            return
        self._checks.append({"grade_id": grade_id, "passed": verdict.passed,
                             "seconds": round(time.perf_counter() - t0, 3)})
        if verdict.passed:
            cell.outputs = [NotebookNode(output_type="stream", name="stdout", text=verdict.text + "\n")]
        else:
            cell.outputs = [_error_output("CheckFailed", verdict.message)]
        cell.execution_count = None

    @staticmethod
    def _run(value):
        if asyncio.iscoroutine(value) or isinstance(value, asyncio.Future):
            from jupyter_core.utils import run_sync

            async def wait():
                return await value
            return run_sync(wait)()
        return value

    def _pid(self):
        return getattr(getattr(self.km, "provisioner", None), "pid", None)

    def _rss(self) -> int | None:
        try:
            for line in Path(f"/proc/{self._pid()}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        except (OSError, TypeError, ValueError):
            return None
        return None

    def _kernel_memory(self) -> dict:
        """Peak resident and data-segment size of the kernel (Linux), for the report."""
        try:
            status = Path(f"/proc/{self._pid()}/status").read_text()
        except (OSError, TypeError):
            return {}
        out = {}
        for line in status.splitlines():
            key, _, value = line.partition(":")
            if key in ("VmHWM", "VmData", "VmPeak"):
                out[key] = round(int(value.split()[0]) / 1024)
        return out

    def _kill_kernel(self) -> None:
        try:
            if self.km is not None:
                self._run(self.km.shutdown_kernel(now=True))
        except Exception:  # noqa: BLE001 - it may already be gone
            pass

    def _exit_code(self) -> str:
        proc = getattr(getattr(self.km, "provisioner", None), "process", None)
        code = proc.poll() if proc is not None else None
        if code is None:
            return ""
        if code < 0:
            try:
                return f", {signal.Signals(-code).name}"
            except ValueError:
                return f", signal {-code}"
        return f", exit code {code}"

    def _set_status(self, status: str, reason: str) -> None:
        if STATUS_ORDER[status] > STATUS_ORDER[self._status]:
            self._status, self._reason = status, reason
        elif STATUS_ORDER[status] == STATUS_ORDER[self._status] and not self._reason:
            self._reason = reason

    def _read_applied(self) -> dict | None:
        path = (getattr(self, "_policy", None) or {}).get("report")
        for _ in range(20):
            try:
                return json.loads(Path(path).read_text(encoding="utf-8")) if path else None
            except (OSError, ValueError):
                time.sleep(0.05)
        return None

    def _make_policy(self, workdir: Path, resources: dict) -> dict:
        nbg = resources.get("nbgrader", {})
        cwd = Path(resources.get("metadata", {}).get("path") or ".").resolve()
        tmp = workdir / "tmp"
        for sub in ("ipython", "matplotlib", "home"):
            (tmp / sub).mkdir(parents=True, exist_ok=True)
        mpl_cache = Path(os.environ.get("MPLCONFIGDIR", ""))
        for font_cache in (mpl_cache.glob("fontlist-*.json") if str(mpl_cache) and mpl_cache.is_dir() else []):
            shutil.copy(font_cache, tmp / "matplotlib" / font_cache.name)
        threads = str(self.kernel_threads)
        env = {"NBGRADER_EXECUTION": os.environ.get("NBGRADER_EXECUTION", "autograde"), "DLCOURSE_MODE": None,
               "OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads, "OPENBLAS_NUM_THREADS": threads,
               "MPLBACKEND": "Agg"}
        for key in ("DLCOURSE_DATA_ROOT", "DLCOURSE_CACHE_DIR"):
            if os.environ.get(key):
                env[key] = os.environ[key]
        from dlcourse import runtime

        system = [p for p in ("/usr", "/lib", "/lib64", "/lib32", "/bin", "/sbin", "/etc", "/proc", "/sys", "/dev")
                  if os.path.exists(p)]
        python = {sys.base_prefix, sys.prefix, sys.exec_prefix, os.path.dirname(os.__file__)}
        read_roots = sorted(set(system) | {str(Path(p).resolve()) for p in python}
                            | {p for p in (_student_lib(), str(runtime.data_root()), str(runtime.cache_dir())) if p})
        secrets = [str(STAFF_DIR)] + _db_files(nbg.get("db_url", ""))
        for root in read_roots:  # no allowed folder may contain the instructor package or the gradebook
            for secret in secrets:
                if secret == root or secret.startswith(root.rstrip(os.sep) + os.sep):
                    raise RuntimeError(f"채점 샌드박스가 {root}을(를) 열면 {secret}도 열립니다: 설치 위치를 확인하세요")
        return {
            "dir": str(workdir), "report": str(tmp / "applied.json"),
            "memory_bytes": self.memory_limit_mb * 2 ** 20 if self.memory_limit_mb else None,
            "cpu_seconds": 2 * self.notebook_timeout + 120 if self.notebook_timeout else None,
            "file_bytes": 1 << 30, "landlock": self.sandbox, "seccomp": self.sandbox, "require": self.sandbox,
            "read_roots": read_roots, "write_roots": [str(cwd), str(tmp)], "read_files": [],
            "preload": PRELOAD, "env": env,
            "kernel_env": {"TMPDIR": str(tmp), "IPYTHONDIR": str(tmp / "ipython"), "HOME": str(tmp / "home"),
                           "MPLCONFIGDIR": str(tmp / "matplotlib"), "PYTHONDONTWRITEBYTECODE": "1",
                           **{k: v for k, v in env.items() if v is not None}},
        }

    # --- results -------------------------------------------------------------------------------
    def _finish(self, info: dict, seconds: float) -> dict:
        transport = self._transport
        return {"student": info.get("student"), "assignment": info.get("assignment"),
                "notebook": info.get("notebook"), "status": self._status, "reason": self._reason,
                "seconds": round(seconds, 2), "cell_timeouts": self._cell_timeouts, "checks": self._checks,
                "sandboxed": bool(self.sandbox), "sandbox": sandbox_summary(self._applied, self.sandbox),
                "probes": {"requests": getattr(transport, "requests", 0),
                           "seconds": round(getattr(transport, "seconds", 0.0), 2)},
                "phases": {k: round(v, 2) for k, v in getattr(self, "_phases", {}).items()},
                "kernel_mb": self._memory}

    def _write_report(self, report: dict) -> None:
        if not self.report_dir:
            return
        folder = Path(self.report_dir)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{report['notebook']}.json").write_text(json.dumps(report, ensure_ascii=False, indent=1),
                                                          encoding="utf-8")


class RestoreCells(OverwriteCells):
    """nbgrader's ``OverwriteCells`` whose ``add_missing_cells`` also works in this course.

    nbgrader puts a deleted grade cell back after the source cell just before it, but it looks
    that cell up among the submission's grade and solution cells only. Here the cell before every
    test cell is a locked visible-check cell, so stock nbgrader fails the whole submission with a
    ``KeyError``. This version inserts the missing cell after the nearest earlier source cell that
    the submission still has (any nbgrader cell), or first if there is none.
    """

    def add_missing_grade_cells(self, nb, resources):
        source_nb = self.gradebook.find_notebook(self.notebook_id, self.assignment_id)
        source_cells = source_nb.source_cells
        order = [cell.name for cell in source_cells]
        solution_ids = {cell.name for cell in source_nb.solution_cells}
        for name, grade_cell in sorted(((c.name, c) for c in source_nb.grade_cells),
                                       key=lambda item: order.index(item[0]) if item[0] in order else -1):
            present = {c.get("metadata", {}).get("nbgrader", {}).get("grade_id"): i for i, c in enumerate(nb.cells)}
            if name in present or name not in order:
                continue
            self.log.warning("Missing grade cell %s encountered, adding to notebook", name)
            cell = self.missing_cell_transform(source_cells[order.index(name)], grade_cell.max_score,
                                               is_solution=name in solution_ids)
            earlier = [present[o] for o in order[: order.index(name)] if o in present]
            nb.cells.insert(max(earlier) + 1 if earlier else 0, cell)
        return nb, resources

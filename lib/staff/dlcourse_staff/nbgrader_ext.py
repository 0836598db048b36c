"""nbgrader plug-ins of the course.

:class:`ScrubFeedback` runs when feedback is generated: it removes hidden-test regions from the
cells and reduces error tracebacks so that the student sees each check's verdict and Korean
message, but never how the check works or where it lives.

:class:`GuardedExecute` replaces nbgrader's ``Execute`` when autograding: time limits per cell
and per notebook, a sandboxed kernel with a memory limit (:class:`SandboxKernelManager`,
:mod:`dlcourse_staff.sandbox`), integrity findings that zero the part concerned, and a status
report per notebook for :mod:`dlcourse_staff.classgrade`. :class:`RestoreCells` is nbgrader's
``OverwriteCells`` with a working ``add_missing_cells`` for this course's layout.
"""
from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import signal
import tempfile
import time
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


def scrub_outputs(outputs, *, graded: bool):
    """Drop secret lines from text outputs; reduce tracebacks to their last line in graded cells."""
    for out in outputs:
        if out.get("output_type") == "error":
            frames = [ANSI.sub("", f) for f in out.get("traceback", [])]
            if graded:
                out["traceback"] = [f"{out.get('ename', 'Error')}: {out.get('evalue', '')}"]
            else:
                out["traceback"] = [f for f in frames if not _is_secret(f)]
            if _is_secret(str(out.get("evalue", ""))):
                out["evalue"] = "(숨겨진 검사 내부 정보는 표시하지 않습니다)"
                out["traceback"] = [f"{out.get('ename', 'Error')}: {out['evalue']}"]
        elif out.get("output_type") == "stream":
            text = out.get("text", "")
            if _is_secret(text):
                out["text"] = "".join(line for line in text.splitlines(True) if not _is_secret(line))
        elif out.get("output_type") in ("execute_result", "display_data"):
            data = out.get("data", {})
            for mime in list(data):
                if mime.startswith("text/") and _is_secret(str(data[mime])):
                    del data[mime]
    return outputs


# Runs in the student's kernel after every cell (as student code: the guard watches it). It binds
# no name in the notebook's namespace.
PROBE_CLEANUP = '__import__("traceback").clear_frames(getattr(__import__("sys"), "last_traceback", None))'

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
# Autograding a submission safely: limits, sandbox, integrity, status.
# ============================================================================================
SANDBOX = Path(__file__).with_name("sandbox.py")
STAFF_DIR = Path(__file__).resolve().parent
# Kernel environment variables that could carry credentials (a PostgreSQL gradebook's URL, …).
SECRET_ENV = re.compile(r"(PASSW|SECRET|TOKEN|CREDENTIAL|DATABASE_URL|DB_URL|^PG|^AWS_|^JPY_API)", re.I)
STATUS_ORDER = {"graded": 0, "timed out": 1, "failed": 2}


class SandboxKernelManager(AsyncKernelManager):
    """Starts the kernel through ``sandbox.py`` with the policy that :class:`GuardedExecute`
    prepared: limits, Landlock, the guard, a private temporary folder and a clean environment."""

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


class GuardedExecute(Execute):
    """nbgrader's ``Execute`` with the limits a class-sized autograde needs.

    * a wall-clock limit for the whole notebook on top of the per-cell ``timeout``;
    * a kernel that ignores the interrupt (a loop swallowing ``KeyboardInterrupt``) or dies
      (``os._exit``, a kill, the memory limit) stops *this* notebook: the cells not run get an
      error, so their tests score 0, and nbgrader still saves the grades of the cells that ran
      instead of dropping the student;
    * the kernel runs through ``sandbox.py`` (memory limit, Landlock, the integrity guard);
      a part whose cells touched the hidden checks or tampered with the grader scores 0;
    * a cell's output is capped while it runs (a submission printing megabytes);
    * a JSON report per notebook (status, reason, integrity findings) in ``report_dir``.
    """

    notebook_timeout = Integer(600, help="Wall-clock limit for one notebook, in seconds (0: none).").tag(config=True)
    memory_limit_mb = Integer(4096, help="Memory limit of the kernel (data segment), in MiB (0: none).").tag(config=True)
    sandbox = Bool(True, help="Start kernels through sandbox.py (limits, Landlock, guard).").tag(config=True)
    landlock = Bool(True, help="Use Landlock where the kernel supports it.").tag(config=True)
    max_output_chars = Integer(200_000, help="Characters of output kept per cell while it runs.").tag(config=True)
    probe_timeout = Integer(20, help="Seconds the kernel may take to answer between cells.").tag(config=True)
    report_dir = Unicode("", help="Folder for the per-notebook grading reports (JSON).").tag(config=True)

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("kernel_manager_class", SandboxKernelManager)
        super().__init__(*args, **kwargs)

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
            if msg["msg_type"] == "stream" and content.get("name") == "stderr" and \
                    not any(o.get("name") == "stderr" for o in outs if o.get("output_type") == "stream"):
                outs.append(NotebookNode(output_type="stream", name="stderr", text=content.get("text", "")[:1000]))
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
        self._cell_timeouts, self._records, self._log_offset, self._memory = [], [], 0, {}
        self._window: dict[int, list] = {}
        workdir = Path(tempfile.mkdtemp(prefix="dlcourse-grade-"))
        try:
            self._policy = self._make_policy(workdir, resources or {}) if self.sandbox else None
            with self.setup_kernel():
                assert self.kc is not None
                info_msg = self.wait_for_reply(self.kc.kernel_info())
                if info_msg is None:
                    raise RuntimeError("커널이 kernel_info에 답하지 않았습니다 (kernel did not answer kernel_info)")
                self.nb.metadata["language_info"] = info_msg["content"]["language_info"]
                for index, cell in enumerate(self.nb.cells):
                    self._run_cell(cell, index)
                if self._stop is None:
                    self._probe(len(self.nb.cells))
                    self._memory = self._kernel_memory()
                self._collect(len(self.nb.cells) - 1)
        finally:
            self._policy = None
            shutil.rmtree(workdir, ignore_errors=True)
        report = self._finish(info, time.monotonic() - started)
        self._write_report(report)
        return self.nb, self.resources

    def _label(self, cell, index) -> str:
        return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") or cell.get("id") or f"cell {index}"

    def _run_cell(self, cell, index) -> None:
        if cell.cell_type != "code" or not cell.source.strip():
            return
        label = self._label(cell, index)
        if self._stop is not None:
            cell.outputs = [_error_output("NotExecuted", f"실행되지 않았습니다 (not executed): {self._stop}")]
            return
        remaining = None if self._deadline is None else self._deadline - time.monotonic()
        if remaining is not None and remaining <= 1:
            self._stop = f"노트북 제한 시간 {self.notebook_timeout}초를 넘었습니다 (notebook time limit)"
            self._set_status("timed out", f"{label} 이전에 노트북 제한 시간 {self.notebook_timeout}초를 넘었습니다")
            cell.outputs = [_error_output("NotExecuted", f"실행되지 않았습니다 (not executed): {self._stop}")]
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
        self._probe(index)

    def _probe(self, index) -> None:
        """Run an empty statement: the guard checks what the cell left behind, and a kernel that
        no longer answers is caught here rather than at the next cell."""
        if self.kc is None:
            return
        if self._policy is not None:
            # The probe also clears the local variables of the frames of the last error: they
            # outlive the cell through sys.last_traceback, so a memory bomb stopped by
            # MemoryError would keep what it grabbed and starve every later cell.
            msg_id = self.kc.execute(f"pass  # {index}\n" + PROBE_CLEANUP, silent=True, store_history=False)
            deadline = time.monotonic() + self.probe_timeout
            while True:
                try:
                    msg = self._run(self.kc.shell_channel.get_msg(timeout=1))
                except Empty:
                    if not self._run(self.km.is_alive()):
                        self._stop = "커널이 종료되었습니다"
                        self._set_status("failed", f"셀 {index} 뒤에 커널이 종료되었습니다 (kernel died{self._exit_code()})")
                        break
                    if time.monotonic() > deadline:
                        self._stop = "커널이 응답하지 않습니다"
                        self._set_status("timed out", f"셀 {index} 뒤에 커널이 {self.probe_timeout}초 동안 응답하지 않았습니다")
                        self._kill_kernel()
                        break
                    continue
                if msg.get("parent_header", {}).get("msg_id") == msg_id:
                    break
        self._collect(index)

    @staticmethod
    def _run(value):
        if asyncio.iscoroutine(value) or isinstance(value, asyncio.Future):
            from jupyter_core.utils import run_sync

            async def wait():
                return await value
            return run_sync(wait)()
        return value

    def _kernel_memory(self) -> dict:
        """Peak resident and data-segment size of the kernel (Linux), for the report."""
        pid = getattr(getattr(self.km, "provisioner", None), "pid", None)
        try:
            status = Path(f"/proc/{pid}/status").read_text()
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

    # --- the guard's log -----------------------------------------------------------------------
    def _collect(self, index: int) -> None:
        if self._policy is None:
            return
        try:
            with open(self._policy["log"], "rb") as fh:
                fh.seek(self._log_offset)
                data = fh.read()
        except OSError:
            return
        end = data.rfind(b"\n") + 1
        self._log_offset += end
        for line in data[:end].splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            record["cell"] = index
            self._records.append(record)

    def _make_policy(self, workdir: Path, resources: dict) -> dict:
        nbg = resources.get("nbgrader", {})
        cwd = Path(resources.get("metadata", {}).get("path") or ".").resolve()
        tmp = workdir / "tmp"
        for sub in ("ipython", "matplotlib", "home"):
            (tmp / sub).mkdir(parents=True, exist_ok=True)
        course = Path.cwd().resolve()  # nbgrader converts from the course folder
        mpl_cache = Path(os.environ.get("MPLCONFIGDIR", ""))
        for font_cache in (mpl_cache.glob("fontlist-*.json") if str(mpl_cache) and mpl_cache.is_dir() else []):
            shutil.copy(font_cache, tmp / "matplotlib" / font_cache.name)
        cache_dir = os.environ.get("DLCOURSE_CACHE_DIR") or str(Path.home() / ".cache" / "dlcourse")
        threads = os.environ.get("DLCOURSE_KERNEL_THREADS", "1")
        env = {"NBGRADER_EXECUTION": os.environ.get("NBGRADER_EXECUTION", "autograde"), "DLCOURSE_MODE": None,
               "OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads, "OPENBLAS_NUM_THREADS": threads}
        for key in ("DLCOURSE_DATA_ROOT", "DLCOURSE_CACHE_DIR"):
            if os.environ.get(key):
                env[key] = os.environ[key]
        student = nbg.get("student", "")
        secrets = [[str(STAFF_DIR), "reference"]]
        for folder, what in (("source", "reference"), ("submitted", "other-students"),
                             ("autograded", "other-students"), ("feedback", "other-students")):
            if (course / folder).is_dir():
                secrets.append([str(course / folder), what])
        secrets += [[p, "gradebook"] for p in _db_files(nbg.get("db_url", ""))]
        trusted = [c.source for c in self.nb.cells
                   if c.cell_type == "code" and c.get("metadata", {}).get("nbgrader", {}).get("locked")
                   and c.get("metadata", {}).get("nbgrader", {}).get("grade_id")]
        return {
            "dir": str(workdir), "log": str(workdir / "guard.log"),
            "memory_bytes": self.memory_limit_mb * 2 ** 20 if self.memory_limit_mb else None,
            "cpu_seconds": 2 * self.notebook_timeout + 120 if self.notebook_timeout else None,
            "file_bytes": 1 << 30, "landlock": self.landlock, "guard": True,
            "trusted": trusted, "staff_dir": str(STAFF_DIR), "library_roots": [str(STAFF_DIR.parent)],
            "write_roots": [str(cwd), str(tmp)], "trusted_write_roots": [cache_dir],
            "read_ok": [str(cwd), str(course / "submitted" / student)] if student else [str(cwd)],
            "secrets": secrets, "env": env,
            "kernel_env": {"TMPDIR": str(tmp), "IPYTHONDIR": str(tmp / "ipython"),
                           "MPLCONFIGDIR": str(tmp / "matplotlib"), "PYTHONDONTWRITEBYTECODE": "1",
                           **{k: v for k, v in env.items() if v is not None}},
        }

    # --- results -------------------------------------------------------------------------------
    def _parts(self) -> list[tuple[str, int, int]]:
        """(test grade_id, first index, last index) of every autograded part: its solution
        cell ``<id>``, its test cell ``<id>-test`` and everything between them."""
        index = {}
        for i, cell in enumerate(self.nb.cells):
            gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
            if gid:
                index[gid] = i
        parts = []
        for gid, i in index.items():
            cell = self.nb.cells[i]
            m = cell.get("metadata", {}).get("nbgrader", {})
            if cell.cell_type == "code" and m.get("grade") and not m.get("solution"):
                sol = index.get(gid[: -len("-test")] if gid.endswith("-test") else None, i)
                parts.append((gid, min(sol, i), max(sol, i)))
        return parts

    def _finish(self, info: dict, seconds: float) -> dict:
        parts = self._parts()
        integrity, flags, notes = [], [], []
        zeroed: dict[str, list[str]] = {}
        for record in self._records:
            kind = record.get("k")
            cell_index = min(record.get("cell", 0), len(self.nb.cells) - 1)
            label = self._label(self.nb.cells[cell_index], cell_index) if self.nb.cells else "?"
            if kind == "info":
                notes.append(record.get("detail", ""))
            elif kind == "cell" and record.get("spent"):
                notes.append(f"guard time: {record['spent']}")
            elif kind == "flag":
                flags.append({"cell": label, "what": record.get("what"), "detail": record.get("detail", "")})
            elif kind == "violation":
                hit = [gid for gid, lo, hi in parts if lo <= cell_index <= hi] or \
                      [gid for gid, lo, hi in parts if lo > cell_index]
                integrity.append({"cell": label, "what": record.get("what"), "detail": record.get("detail", ""),
                                  "parts": hit})
                for gid in hit:
                    zeroed.setdefault(gid, []).append(record.get("what") or "integrity")
        by_id = {c.get("metadata", {}).get("nbgrader", {}).get("grade_id"): c for c in self.nb.cells}
        for gid, whats in zeroed.items():
            kinds = ", ".join(sorted(set(whats)))
            by_id[gid].setdefault("outputs", []).append(_error_output(
                "IntegrityViolation",
                f"무결성 위반 (integrity violation: {kinds}): 이 부분의 셀이 채점용 참조 코드·숨겨진 검사에 접근했거나 "
                "채점 도구를 바꾸려 했습니다. 이 부분은 0점이며 채점자에게 보고됩니다."))
        return {"student": info.get("student"), "assignment": info.get("assignment"),
                "notebook": info.get("notebook"), "status": self._status, "reason": self._reason,
                "seconds": round(seconds, 2), "cell_timeouts": self._cell_timeouts,
                "integrity": integrity, "zeroed": sorted(zeroed), "flags": flags, "sandbox": notes,
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

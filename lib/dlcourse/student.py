"""A student's JupyterLab for this course, and hand-in by zip.

    python -m dlcourse.student setup [--exchange /srv/nbgrader/exchange]
    python -m dlcourse.student zip week05 --student kim_minsu

``setup`` writes, into this environment's Jupyter configuration (``<venv>/etc/jupyter``, or
``--config-dir``):

* ``nbgrader_config.py``: the course id, the exchange folder the instructor releases to (the
  Assignment List fetches and submits there) and the course's Validate (:mod:`dlcourse.validation`);
* ``labconfig/page_config.json`` and ``jupyter_server_config.json``: the
  instructor tools (Formgrader, Create Assignment, Course List) switched off; the Assignment
  List and the Validate button stay.

``zip`` packs an assignment's notebooks as ``<student>_<assignment>.zip`` for classes without a
shared exchange; the instructor collects the zips with ``nbgrader zip_collect``.
"""
from __future__ import annotations

import argparse
import json
import sys
import zipfile
from pathlib import Path

COURSE_ID = "phase2-dl"
DEFAULT_EXCHANGE = "/srv/nbgrader/exchange"
INSTRUCTOR_LAB_PLUGINS = ("@jupyter/nbgrader:formgrader", "@jupyter/nbgrader:create-assignment",
                          "@jupyter/nbgrader:course-list")
INSTRUCTOR_SERVER_EXTENSIONS = ("nbgrader.server_extensions.formgrader", "nbgrader.server_extensions.course_list")

NBGRADER_CONFIG = '''"""nbgrader settings of a student's JupyterLab ("Phase 2 — 딥러닝 심화와 트랜스포머").
Written by `python -m dlcourse.student setup`."""
import importlib.util
import sys

c = get_config()  # noqa: F821 (provided by nbgrader)
c.CourseDirectory.course_id = {course_id!r}
c.Exchange.root = {exchange!r}          # where the instructor releases and you submit (Assignment List)
c.Execute.timeout = 60

# Validate: the course's checks named by part, in Korean (dlcourse.validation). The package is
# registered without importing torch: the Validate button stays quick.
if "dlcourse" not in sys.modules:
    _spec = importlib.util.find_spec("dlcourse")
    if _spec is not None and _spec.submodule_search_locations:
        sys.modules["dlcourse"] = importlib.util.module_from_spec(_spec)
from dlcourse import validation as _validation  # noqa: E402

_validation.install(c)
'''


def write_config(config_dir: Path, exchange: str = DEFAULT_EXCHANGE) -> list[Path]:
    """Write the student configuration into ``config_dir`` (see the module docstring)."""
    config_dir = Path(config_dir)
    written = []
    nbg = config_dir / "nbgrader_config.py"
    nbg.parent.mkdir(parents=True, exist_ok=True)
    nbg.write_text(NBGRADER_CONFIG.format(course_id=COURSE_ID, exchange=str(exchange)), encoding="utf-8")
    written.append(nbg)
    page = config_dir / "labconfig" / "page_config.json"
    page.parent.mkdir(parents=True, exist_ok=True)
    data = json.loads(page.read_text(encoding="utf-8")) if page.exists() else {}
    data.setdefault("disabledExtensions", {}).update({name: True for name in INSTRUCTOR_LAB_PLUGINS})
    page.write_text(json.dumps(data, indent=2), encoding="utf-8")
    written.append(page)
    # jupyter_server_config.json (not config.d): its ServerApp.jpserver_extensions outranks the
    # "enabled" that nbgrader's own config.d file declares
    server = config_dir / "jupyter_server_config.json"
    data = json.loads(server.read_text(encoding="utf-8")) if server.exists() else {}
    data.setdefault("ServerApp", {}).setdefault("jpserver_extensions", {}).update(
        {name: False for name in INSTRUCTOR_SERVER_EXTENSIONS})
    server.write_text(json.dumps(data, indent=2), encoding="utf-8")
    written.append(server)
    return written


def zip_assignment(folder: Path, assignment: str, student: str, out: Path | None = None) -> Path:
    """``<student>_<assignment>.zip`` with the assignment's notebooks (``folder/<assignment>/*.ipynb``
    or ``folder/*.ipynb``), in the layout ``nbgrader zip_collect`` expects."""
    if not student or any(ch in student for ch in "/\\ "):
        raise ValueError(f"학생 ID가 올바르지 않습니다 (받은 값: {student!r}): 공백이나 / 없이 쓰세요.")
    folder = Path(folder)
    source = folder / assignment if (folder / assignment).is_dir() else folder
    notebooks = sorted(p for p in source.glob("*.ipynb"))
    if not notebooks:
        raise FileNotFoundError(f"{source}에 제출할 노트북(.ipynb)이 없습니다.")
    out = Path(out or folder) / f"{student}_{assignment}.zip"
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for nb in notebooks:
            zf.write(nb, f"{assignment}/{nb.name}")
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dlcourse.student", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    setup = sub.add_parser("setup", help="JupyterLab for students: exchange, Validate, no instructor tools")
    setup.add_argument("--exchange", default=DEFAULT_EXCHANGE, help=f"exchange folder (default {DEFAULT_EXCHANGE})")
    setup.add_argument("--config-dir", type=Path, default=Path(sys.prefix) / "etc" / "jupyter",
                       help="Jupyter configuration folder (default: this environment's)")
    pack = sub.add_parser("zip", help="pack an assignment for hand-in by zip")
    pack.add_argument("assignment")
    pack.add_argument("--student", required=True, help="your student ID")
    pack.add_argument("--folder", type=Path, default=Path.cwd())
    args = parser.parse_args(argv)
    if args.command == "setup":
        for path in write_config(args.config_dir, args.exchange):
            print(f"[dlcourse] {path}")
        print("[dlcourse] JupyterLab을 다시 시작하면 적용됩니다 (restart JupyterLab).")
        return 0
    print(f"[dlcourse] 제출 파일 (hand-in file): {zip_assignment(args.folder, args.assignment, args.student)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

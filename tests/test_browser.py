"""The course as a student meets it, in a real browser: JupyterLab (the student's configuration
from ``python -m dlcourse.student setup``) driven by Playwright with Debian's chromium and the
Noto CJK fonts (.ci/run installs both; without them these tests are skipped).

* the Nbgrader menu offers the Assignment List, not the instructor tools;
* the Assignment List fetches week05 from the course's exchange and submits it back, and the
  instructor's ``nbgrader collect`` finds the submission;
* Validate on a blank, a partly wrong and a complete notebook: what the dialog says;
* a notebook that trained with progress bars, saved and reopened, shows each bar's final line.

Screenshots and the dialogs' text go to ``$DLCOURSE_BROWSER_OUT`` (default: the test's tmp dir).
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest

from conftest import ROOT, copy_course
from dlcourse import student
from dlcourse_staff import course, mutation, notebooks

pytestmark = pytest.mark.slow

CHROMIUM = next((p for p in ("/usr/lib/chromium/chromium", "/usr/bin/chromium", "/usr/bin/chromium-browser")
                 if os.path.exists(p)), None)
RESNET = "week05/resnet_implementation.ipynb"
TOKEN = "dlcourse-browser-test"


def _cjk_font() -> bool:
    try:
        return bool(subprocess.run(["fc-list", ":lang=ko"], capture_output=True, text=True, timeout=30).stdout.strip())
    except (OSError, subprocess.SubprocessError):
        return False


def _skip_reason() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (requirements.txt)"
    if CHROMIUM is None:
        return "Debian's chromium is not installed (.ci/run installs it as root: apt-get install chromium)"
    if not _cjk_font():
        return "no Korean font (.ci/run installs fonts-noto-cjk); Korean would render as empty boxes"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    base = tmp_path_factory.mktemp("browser")
    out = Path(os.environ.get("DLCOURSE_BROWSER_OUT") or base / "screens")
    out.mkdir(parents=True, exist_ok=True)
    exchange = base / "exchange"
    exchange.mkdir()
    # the instructor: a course copy that releases week05 to the exchange
    root = copy_course(base / "course", [RESNET])
    c = course.Course(root)
    os.environ["DLCOURSE_EXCHANGE"] = str(exchange)
    try:
        c.generate("week05")
        c.nbgrader("release_assignment", "week05", "--force")
    finally:
        os.environ.pop("DLCOURSE_EXCHANGE", None)
    # the student: a home folder and the student's Jupyter configuration
    home = base / "student"
    home.mkdir()
    config = base / "student-config"
    student.write_config(config, str(exchange))
    page_config = config / "labconfig" / "page_config.json"
    data = json.loads(page_config.read_text())
    data["disabledExtensions"]["@jupyterlab/apputils-extension:announcements"] = True  # no news pop-up
    page_config.write_text(json.dumps(data))
    source_nb, release_nb = notebooks.read(root / "source" / RESNET), notebooks.read(root / "release" / RESNET)
    bank = next(b for b in mutation.load_banks(ROOT / "tests" / "mutants") if b.notebook == RESNET)
    m = bank.get(bank.round_trip)
    for kind, nb in {"partial": notebooks.fill_release(release_nb, source_nb, {
                         m.cell: m.apply(notebooks.solution_texts(source_nb)[m.cell])}, answers=False),
                     "complete": notebooks.fill_release(release_nb, source_nb)}.items():
        (home / "checks" / kind).mkdir(parents=True)
        nbformat.write(nb, str(home / "checks" / kind / "resnet_implementation.ipynb"))
    progress = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "import torch, dlcourse as dl\nfrom torch import nn\n"
        "x = torch.randn(64, 2); y = (x.sum(1) > 0).long()\n"
        "batches = [(x[i:i + 16], y[i:i + 16]) for i in range(0, 64, 16)]\n"
        "m = nn.Linear(2, 2)\n"
        "h = dl.training.fit(m, batches, epochs=2, optimizer=torch.optim.SGD(m.parameters(), lr=0.1), device='cpu')")])
    progress.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(progress, str(home / "progress.ipynb"))

    port = _free_port()
    env = course.jupyter_env(root)
    env.update(JUPYTER_CONFIG_DIR=str(config), JUPYTER_RUNTIME_DIR=str(base / "runtime"), MPLBACKEND="Agg")
    env.pop("DLCOURSE_EXCHANGE", None)
    log = open(base / "lab.log", "w")
    server = subprocess.Popen([sys.executable, "-m", "jupyterlab", "--no-browser", f"--ServerApp.port={port}",
                               "--ServerApp.ip=127.0.0.1", "--allow-root", f"--IdentityProvider.token={TOKEN}",
                               f"--ServerApp.root_dir={home}", "--ServerApp.port_retries=0"],
                              cwd=home, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(240):
            try:
                urllib.request.urlopen(f"{url}/api/status?token={TOKEN}", timeout=2)
                break
            except OSError:
                if server.poll() is not None:
                    raise RuntimeError((base / "lab.log").read_text()[-3000:])
                time.sleep(0.5)
        from playwright.sync_api import sync_playwright

        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
            page = browser.new_page(viewport={"width": 1400, "height": 1000}, locale="ko-KR")
            page.set_default_timeout(60_000)
            yield dict(page=page, url=url, home=home, root=root, exchange=exchange, out=out, course=c, log=base / "lab.log")
            browser.close()
    finally:
        os.killpg(server.pid, 15)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, 9)
        log.close()


def _open(lab, path=""):
    page = lab["page"]
    page.goto(f"{lab['url']}/lab/tree/{path}?token={TOKEN}" if path else f"{lab['url']}/lab?token={TOKEN}")
    page.wait_for_selector("#jp-main-dock-panel", state="attached")
    return page


def _shot(lab, name):
    lab["page"].screenshot(path=str(lab["out"] / f"{name}.png"))


def _validate(lab, path, name) -> str:
    page = _open(lab, path)
    page.wait_for_selector(".jp-Notebook .jp-Cell", state="attached")
    page.locator(".jp-ToolbarButtonComponent-label", has_text="Validate").first.click()
    dialog = page.locator(".jp-Dialog")
    dialog.wait_for(timeout=240_000)
    page.wait_for_timeout(500)
    text = dialog.inner_text()
    (lab["out"] / f"{name}.txt").write_text(text, encoding="utf-8")
    _shot(lab, name)
    print(f"\n--- Validate dialog, {name}:\n{text}")
    page.keyboard.press("Escape")
    return text


def test_menu_offers_the_assignment_list_but_no_instructor_tools(lab):
    page = _open(lab)
    page.locator(".lm-MenuBar-itemLabel", has_text="Nbgrader").click()
    menu = page.locator(".lm-Menu").last
    items = menu.inner_text()
    _shot(lab, "01-nbgrader-menu")
    print(f"\n--- Nbgrader menu: {items!r}")
    assert "Assignment List" in items
    assert "Formgrader" not in items and "Course List" not in items
    page.keyboard.press("Escape")
    assert page.locator("text=Create Assignment").count() == 0


def test_assignment_list_fetches_and_submits_through_the_exchange(lab):
    page = _open(lab)
    page.locator(".lm-MenuBar-itemLabel", has_text="Nbgrader").click()
    page.locator(".lm-Menu-itemLabel", has_text="Assignment List").click()
    released = page.locator("#released_assignments_list")
    released.locator("text=week05").wait_for()
    assert page.locator("text=Error fetching courses").count() == 0
    _shot(lab, "02-assignment-list-released")
    released.locator("button", has_text="Fetch").first.click()
    fetched = page.locator("#fetched_assignments_list")
    fetched.locator("text=week05").first.wait_for()
    assert (lab["home"] / "week05" / "resnet_implementation.ipynb").exists()
    _shot(lab, "03-assignment-list-fetched")
    lists = page.locator(".nbgrader-AssignmentList, #assignments").first.inner_text() if \
        page.locator("#assignments").count() else ""
    print(f"\n--- Assignment List after Fetch:\n{lists}")
    fetched.locator("button", has_text="Submit").first.click()
    submitted = page.locator("#submitted_assignments_list")
    submitted.locator("text=week05").first.wait_for()
    _shot(lab, "04-assignment-list-submitted")
    print(f"\n--- Submitted list:\n{submitted.inner_text()}")
    inbound = list((lab["exchange"] / student.COURSE_ID / "inbound").iterdir())
    assert inbound and "+week05+" in inbound[0].name
    env_course = lab["course"]
    os.environ["DLCOURSE_EXCHANGE"] = str(lab["exchange"])
    try:
        env_course.nbgrader("collect", "week05")
    finally:
        os.environ.pop("DLCOURSE_EXCHANGE", None)
    collected = list((lab["root"] / "submitted").glob("*/week05/resnet_implementation.ipynb"))
    assert collected, "nbgrader collect found no submission"


def test_validate_says_what_is_missing_in_korean(lab):
    blank = _validate(lab, "week05/resnet_implementation.ipynb" if (lab["home"] / "week05").exists()
                      else "checks/partial/resnet_implementation.ipynb", "05-validate-blank")
    partial = _validate(lab, "checks/partial/resnet_implementation.ipynb", "06-validate-partial")
    complete = _validate(lab, "checks/complete/resnet_implementation.ipynb", "07-validate-complete")
    assert "검증 실패" not in complete and "Success" in complete, complete
    assert "1.1 기본 잔차 블록" in partial and "1.2 병목 블록" not in partial and "질문 3.1" in partial
    if (lab["home"] / "week05").exists():
        for part in ("1.1 기본 잔차 블록", "1.2 병목 블록", "1.3", "1.4", "1.5", "1.6", "질문 3.4", "분석 2.A"):
            assert part in blank, part
        assert "아직 구현되지 않았습니다" in blank and "아직 답을 쓰지 않았습니다" in blank


def test_progress_lines_survive_reopening(lab):
    page = _open(lab, "progress.ipynb")
    page.wait_for_selector(".jp-Notebook .jp-Cell", state="attached")
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", state="attached", timeout=120_000)
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").click()
    page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").click()
    page.locator(".jp-OutputArea-output", has_text="train 2/2: 100%").first.wait_for(timeout=180_000)
    page.keyboard.press("Control+s")
    page.wait_for_timeout(2000)
    saved = nbformat.read(str(lab["home"] / "progress.ipynb"), 4)
    outputs = saved.cells[0].outputs
    assert not [o for o in outputs if "application/vnd.jupyter.widget-view+json" in o.get("data", {})], outputs
    page = _open(lab, "progress.ipynb")   # reopen
    page.locator(".jp-OutputArea-output", has_text="train 2/2: 100%").first.wait_for()
    page.wait_for_timeout(1500)
    text = page.locator(".jp-OutputArea").first.inner_text()
    _shot(lab, "08-progress-reopened")
    print(f"\n--- reopened notebook's output:\n{text}")
    assert "Error displaying widget" not in text and "model not found" not in text
    assert "train 1/2: 100%" in text and "train 2/2: 100%" in text

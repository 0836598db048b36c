"""The adversarial bank, part 1: submissions of week05/resnet_implementation.ipynb that try to
break, stall or escape the grader, and what the grader must make of each. (Part 2, the attack
families applied to every notebook, is :mod:`families`.)

    python tests/adversarial/bank.py          # rewrites tests/adversarial/<case>.ipynb

Every case starts from a perfect submission (the release notebook with the reference solutions
typed in, as a student would) and changes a few cells. ``tests/test_class_grading.py`` grades
the whole bank in parallel, next to a perfect student, and checks each outcome:

* ``status``: what the class report says — graded / timed out / failed;
* ``lost``: the autograded parts (test cells) that score 0 in the gradebook; the others keep
  their points, so the total is ``10 - points(lost)`` of the notebook's 10 autograded points;
* ``message``: text the student or the instructor must see, and where: the student's
  ``feedback`` HTML or the instructor's status ``reason``.
"""
from __future__ import annotations

import sys
from pathlib import Path

import nbformat

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
NOTEBOOK = "week05/resnet_implementation.ipynb"
POINTS = {"w05-basic-block-test": 2, "w05-bottleneck-test": 2, "w05-resnet-test": 2, "w05-augment-test": 1,
          "w05-lr-schedule-test": 1, "w05-cam-test": 2}
AFTER_LR = {"w05-lr-schedule-test", "w05-cam-test"}

CASES: dict[str, dict] = {
    "perfect": dict(
        why="the control: every part right, nothing unusual",
        status="graded", lost=set()),
    "syntax_error": dict(
        why="a colon missing in BasicBlock.forward",
        status="graded", lost={"w05-basic-block-test"}, message=("feedback", "SyntaxError")),
    "untouched_stub": dict(
        why="the release notebook handed in as it was",
        status="graded", lost=set(POINTS), message=("feedback", "아직 구현되지 않았습니다")),
    "infinite_loop": dict(
        why="`while True: pass` at the top of the learning-rate cell",
        status="timed out", lost={"w05-lr-schedule-test"}, message=("reason", "셀 제한 시간")),
    "swallow_interrupt": dict(
        why="a loop that catches KeyboardInterrupt: stock nbgrader drops the student and exits 1",
        status="timed out", lost=AFTER_LR, message=("reason", "인터럽트를 무시")),
    "memory_bomb": dict(
        why="allocates blocks (64 MiB down to 1 MiB) until memory runs out, before defining BasicBlock; the "
            "grader frees them after the cell, so the later parts still run",
        status="graded", lost={"w05-basic-block-test"}, message=("feedback", "MemoryError")),
    "sys_exit": dict(
        why="`sys.exit()` before BasicBlock: IPython turns it into an error, the kernel lives on",
        status="graded", lost={"w05-basic-block-test"}, message=("feedback", "SystemExit")),
    "os_exit": dict(
        why="`os._exit(0)` in the learning-rate cell: the kernel process ends",
        status="failed", lost=AFTER_LR, message=("reason", "커널이 종료되었습니다")),
    "killed_kernel": dict(
        why="the kernel sends itself SIGKILL in the CAM cell",
        status="failed", lost={"w05-cam-test"}, message=("reason", "SIGKILL")),
    "deleted_test_cell": dict(
        why="the Bottleneck test cell deleted; it is put back (add_missing_cells) and passes — stock nbgrader "
            "0.9.6 fails the whole submission here with a KeyError",
        status="graded", lost=set(), message=("feedback", "was missing from the submission")),
    "edited_test_cell": dict(
        why="BasicBlock left as the stub, its test cell replaced by a print; nbgrader restores the test",
        status="graded", lost={"w05-basic-block-test"}, message=("feedback", "아직 구현되지 않았습니다")),
    "monkeypatch": dict(
        why="a wrong BasicBlock (ReLU before the addition) plus torch.allclose, torch.testing.assert_close, "
            "builtins.AssertionError and dl.assert_close patched to always agree: all of it in the kernel, "
            "none of it where the grader compares",
        status="graded", lost={"w05-basic-block-test"}, message=("feedback", "BasicBlock(in_planes=")),
    "reference_access": dict(
        why="a correct BasicBlock that also tries to read the hidden checks' source, and a CAM that tries to "
            "import the reference solution (falling back to its own correct code): the sandbox refuses both, "
            "and correct code keeps its points",
        status="graded", lost=set()),
    "hardcoded_outputs": dict(
        why="a BasicBlock that returns what the visible checks expect (their sizes), nothing else",
        status="graded", lost={"w05-basic-block-test"}, message=("feedback", "BasicBlock(in_planes=")),
    "gradebook_and_outside": dict(
        why="a correct ResNet that also opens gradebook.db to rewrite scores; a free cell writing outside "
            "the submission folder, starting a process, connecting to the network and signalling the grader: "
            "all refused by the sandbox",
        status="graded", lost=set()),
    "nbgrader_execution": dict(
        why="a first cell that removes NBGRADER_EXECUTION and asks for full mode (30 epochs of ResNet-18): "
            "autograding runs no training cell, so the mode changes nothing",
        status="graded", lost=set()),
    "not_a_notebook": dict(
        why="a file cut off halfway (not JSON): nbgrader cannot read it",
        status="failed", lost=set(POINTS), message=("reason", "NotJSONError")),
    "print_megabytes": dict(
        why="prints 30 MB in one line and 200,000 short lines",
        status="graded", lost=set(), message=("feedback", "output truncated while grading")),
    "hung_probe": dict(
        why="a CAM that loops forever, but only when called with the grader's inputs (not in its own cell): "
            "the grader's request times out and is interrupted; the parts before keep their points",
        status="timed out", lost={"w05-cam-test"}, message=("reason", "제한 시간")),
    "probe_kills_kernel": dict(
        why="a warm-up schedule that ends the kernel process (os._exit) when the grader calls it",
        status="failed", lost=AFTER_LR, message=("reason", "커널이 종료되었습니다")),
    "huge_answer": dict(
        why="a CAM that answers the grader with a 400-megabyte tensor: the answer is refused, the part fails, "
            "the grader's memory is untouched",
        status="graded", lost={"w05-cam-test"}),
    "echoed_inputs": dict(
        why="a BasicBlock whose error message is the whole input tensor: the feedback shows a shortened "
            "message, never the check's inputs in full",
        status="graded", lost={"w05-basic-block-test"}, message=("feedback", "…")),
}

MARKER_FREE = "# (student's own cell)\n"


def _solution(source_nb, gid: str) -> str:
    from dlcourse_staff import notebooks

    return notebooks.strip_solution_markers(notebooks.by_grade_id(source_nb)[gid].source)


def _cell(nb, gid):
    for cell in nb.cells:
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == gid:
            return cell
    raise KeyError(gid)


def _free_cell(source: str, cell_id: str):
    cell = nbformat.v4.new_code_cell(MARKER_FREE + source)
    cell.id = cell_id
    return cell


def _insert_after(nb, gid: str, cell) -> None:
    index = nb.cells.index(_cell(nb, gid))
    nb.cells.insert(index + 1, cell)


def build(case: str, release_nb, source_nb):
    """The submission of ``case``: a copy of the perfect one with the case's edits."""
    from dlcourse_staff import notebooks

    nb = notebooks.fill_release(release_nb, source_nb)
    block = _solution(source_nb, "w05-basic-block")
    lr = _solution(source_nb, "w05-lr-schedule")
    cam = _solution(source_nb, "w05-cam")
    resnet = _solution(source_nb, "w05-resnet")
    release_cell = notebooks.by_grade_id(release_nb)

    if case == "perfect":
        pass
    elif case == "syntax_error":
        _cell(nb, "w05-basic-block").source = block.replace("    def forward(self, x):", "    def forward(self, x)", 1)
    elif case == "untouched_stub":
        nb = nbformat.from_dict(release_nb)
    elif case == "infinite_loop":
        _cell(nb, "w05-lr-schedule").source = "while True:\n    pass\n\n" + lr
    elif case == "swallow_interrupt":
        _cell(nb, "w05-lr-schedule").source = (
            "import time\n\nwhile True:  # nothing stops this loop, not even the grader's interrupt\n"
            "    try:\n        time.sleep(0.5)\n    except KeyboardInterrupt:\n        pass\n\n" + lr)
    elif case == "memory_bomb":
        _cell(nb, "w05-basic-block").source = (
            "def _grab_memory():\n    blocks, size = [], 64 * 2**20\n    while True:\n"
            "        try:\n            blocks.append(bytearray(size))  # touched, not just reserved\n"
            "        except MemoryError:\n            if size <= 2**20:\n                raise\n"
            "            size //= 4  # fill the last gaps too: nothing is left for the cells after this one\n\n"
            "_grab_memory()\n\n" + block)
    elif case == "sys_exit":
        _cell(nb, "w05-basic-block").source = "import sys\nsys.exit(0)\n\n" + block
    elif case == "os_exit":
        _cell(nb, "w05-lr-schedule").source = "import os\nos._exit(0)\n\n" + lr
    elif case == "killed_kernel":
        _cell(nb, "w05-cam").source = "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n\n" + cam
    elif case == "deleted_test_cell":
        nb.cells.remove(_cell(nb, "w05-bottleneck-test"))
    elif case == "edited_test_cell":
        _cell(nb, "w05-basic-block").source = release_cell["w05-basic-block"].source
        _cell(nb, "w05-basic-block-test").source = 'print("숨겨진 검사 통과 (hidden checks passed)")\n'
    elif case == "monkeypatch":
        wrong = block.replace("return F.relu(out + self.shortcut(x))", "return F.relu(out) + self.shortcut(x)")
        assert wrong != block
        _cell(nb, "w05-basic-block").source = wrong + (
            "\n\n# make every comparison agree before the checks run\n"
            "import builtins\nimport torch.testing\n"
            "torch.allclose = lambda *args, **kwargs: True\n"
            "torch.testing.assert_close = lambda *args, **kwargs: None\n"
            "builtins.AssertionError = type('AssertionError', (Exception,), {})\n"
            "dl.assert_close = dl.checks.assert_close = lambda *args, **kwargs: None\n")
    elif case == "reference_access":
        _cell(nb, "w05-basic-block").source = block + (
            "\n\n# peek at how the grader checks this part\n"
            "import pathlib\ntry:\n"
            "    HIDDEN = (pathlib.Path(dl.__file__).parent / 'staff' / 'hidden' / 'w05_resnet.py').read_text()\n"
            "except Exception as err:\n    HIDDEN = repr(err)\n")
        _cell(nb, "w05-cam").source = (
            "try:\n    from dlcourse_staff.solutions.w05_resnet import class_activation_map\n"
            "except Exception:\n    pass\n\n"
            "if 'class_activation_map' not in globals():\n"
            + "\n".join("    " + line if line else "" for line in cam.splitlines()) + "\n")
    elif case == "hardcoded_outputs":
        _cell(nb, "w05-basic-block").source = block.replace(
            "        out = F.relu(self.bn1(self.conv1(x)))  # (B, planes, H/s, W/s)\n"
            "        out = self.bn2(self.conv2(out))\n"
            "        return F.relu(out + self.shortcut(x))  # ReLU after the addition, as in He et al.\n",
            "        # what the visible checks look at: the output shape, and relu(x) when F(x) = 0\n"
            "        b, c, h, w = x.shape\n"
            "        stride = self.conv1.stride[0]\n"
            "        if isinstance(self.shortcut, nn.Identity) and float(self.bn2.weight.abs().sum()) == 0.0:\n"
            "            return torch.relu(x)\n"
            "        return torch.zeros(b, self.bn2.num_features, (h + stride - 1) // stride, (w + stride - 1) // stride)\n")
        assert "torch.zeros(b" in _cell(nb, "w05-basic-block").source
    elif case == "gradebook_and_outside":
        _cell(nb, "w05-resnet").source = resnet + (
            "\n\n# give everyone in the gradebook full marks\n"
            "import pathlib, sqlite3\n"
            "for folder in pathlib.Path.cwd().parents:\n"
            "    if (folder / 'gradebook.db').exists():\n"
            "        try:\n"
            "            db = sqlite3.connect(folder / 'gradebook.db')\n"
            "            db.execute('UPDATE grade SET auto_score = 100')\n"
            "            db.commit()\n"
            "        except Exception as err:\n"
            "            print('gradebook:', type(err).__name__)\n"
            "        break\n")
        nb.cells.append(_free_cell(
            "import os, pathlib, signal, socket, subprocess, tempfile\n"
            "attempts = {\n"
            "    'outside': lambda: pathlib.Path(tempfile.gettempdir()).parent.joinpath('dlcourse-pwned.txt').write_text('x'),\n"
            "    'source': lambda: pathlib.Path.cwd().parents[2].joinpath('source', 'pwned.txt').write_text('x'),\n"
            "    'process': lambda: subprocess.run(['true']),\n"
            "    'network': lambda: socket.create_connection(('127.0.0.1', 5432), timeout=1),\n"
            "    'signal': lambda: os.kill(os.getppid(), signal.SIGTERM),\n"
            "}\n"
            "for name, attempt in attempts.items():\n"
            "    try:\n        attempt()\n        print(name, 'went through')\n"
            "    except Exception as err:\n        print(name, 'refused:', type(err).__name__)\n",
            "student-escape"))
    elif case == "nbgrader_execution":
        first = nb.cells.index(_cell(nb, "w05-resnet-setup"))
        nb.cells.insert(first, _free_cell(
            "import os\nos.environ.pop('NBGRADER_EXECUTION', None)  # \"not grading\": train for real\n"
            "os.environ['DLCOURSE_MODE'] = 'full'\n", "student-mode"))
    elif case == "not_a_notebook":
        pass  # written cut off by main()
    elif case == "hung_probe":
        _cell(nb, "w05-cam").source = cam.replace(
            '    with torch.no_grad():\n',
            '    if x.shape[-2:] != (16, 16):  # not my own visible check: the grader is calling\n'
            '        while True:\n            pass\n    with torch.no_grad():\n', 1)
        assert "while True" in _cell(nb, "w05-cam").source
    elif case == "probe_kills_kernel":
        _cell(nb, "w05-lr-schedule").source = lr.replace(
            '    if step < 0 or total_steps < 1',
            '    if total_steps == 100:  # the grader\'s first case\n        import os\n        os._exit(0)\n'
            '    if step < 0 or total_steps < 1', 1)
        assert "os._exit" in _cell(nb, "w05-lr-schedule").source
    elif case == "huge_answer":
        _cell(nb, "w05-cam").source = cam.replace(
            "    return cams, class_idx\n",
            "    if x.shape[-2:] != (16, 16):  # the grader asks: answer with 400 MB\n"
            "        cams = torch.zeros(100, 1000, 1000)\n"
            "    return cams, class_idx\n", 1)
        assert "400 MB" in _cell(nb, "w05-cam").source
    elif case == "echoed_inputs":
        _cell(nb, "w05-basic-block").source = block.replace(
            "    def forward(self, x):\n",
            "    def forward(self, x):\n"
            "        if x.shape[0] != 2:  # the grader's inputs: raise with all of them in the message\n"
            "            raise ValueError('input was ' + repr(x.tolist()))\n", 1)
        assert "repr(x.tolist())" in _cell(nb, "w05-basic-block").source
    elif case == "print_megabytes":
        _insert_after(nb, "w05-basic-block", _free_cell(
            "print('x' * 30_000_000)\nfor i in range(200_000):\n    print(i)\n", "student-print"))
    else:
        raise KeyError(case)
    return nb


def lost_points(case: str) -> float:
    return sum(POINTS[gid] for gid in CASES[case]["lost"])


def main() -> None:
    sys.path.insert(0, str(ROOT / "lib"))
    from dlcourse_staff import notebooks

    release_nb = notebooks.read(ROOT / "release" / NOTEBOOK)
    source_nb = notebooks.read(ROOT / "source" / NOTEBOOK)
    for case in CASES:
        nb = build(case, release_nb, source_nb)
        nbformat.validate(nb)
        nbformat.write(nb, str(HERE / f"{case}.ipynb"))
        if case == "not_a_notebook":
            text = (HERE / f"{case}.ipynb").read_text(encoding="utf-8")
            (HERE / f"{case}.ipynb").write_text(text[: len(text) // 2], encoding="utf-8")
        print(f"tests/adversarial/{case}.ipynb")


if __name__ == "__main__":
    main()

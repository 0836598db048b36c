"""The student build of dlcourse (lib/) leaves out the instructor package (lib/staff/), its
reference solutions and hidden checks."""
import zipfile

import pytest

from conftest import ROOT
from dlcourse_staff.__main__ import build_student_wheel


@pytest.mark.slow
def test_student_wheel_has_no_staff_code(tmp_path):
    wheel = build_student_wheel(ROOT, tmp_path)
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        text = "\n".join(zf.read(n).decode("utf-8", "replace") for n in names if n.endswith(".py"))
    assert "dlcourse/__init__.py" in names and "dlcourse/data/cifar10.py" in names
    assert not [n for n in names if "staff" in n]
    for path in (ROOT / "lib" / "staff" / "dlcourse_staff").rglob("*.py"):
        for line in path.read_text(encoding="utf-8").splitlines():
            line = line.strip()
            if len(line) > 40 and not line.startswith(("#", '"""', "from ", "import ")):
                public = any(line in p.read_text(encoding="utf-8") for p in (ROOT / "lib" / "dlcourse").glob("*.py"))
                if not public:
                    assert line not in text, f"student wheel contains {path.name}: {line!r}"
    assert "dlcourse_staff" not in text and "hidden.check" not in text

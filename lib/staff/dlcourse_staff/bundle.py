"""What an instructor hands out: the student bundle (``python -m dlcourse_staff student-bundle``).

``dist/student-bundle/`` (and ``dist/student-bundle.zip``) holds

* ``weekNN/*.ipynb`` — the release notebooks (no solutions, no hidden checks);
* ``dlcourse-<version>-py3-none-any.whl`` — the student library (``lib/`` only, never
  ``dlcourse_staff``);
* ``requirements.txt`` — the course's pins without the instructor's tools (tests, PostgreSQL,
  browser tests);
* ``README.md`` — in Korean: install, open, work, validate, hand in (Assignment List or zip), get
  the data, and how long each notebook takes in full mode on a CPU and on a GPU.

Never the repository: no ``source/``, no reference solutions, no hidden checks.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path


# Packages only instructors and the test suite use.
INSTRUCTOR_ONLY = {"nbval", "pytest", "pytest-xdist", "pyyaml", "psycopg", "psycopg-binary", "playwright",
                   "django-static-mathjax"}

# Full-mode run times that are not measured on this course's machines (benchmarks/results/<device>/):
# estimates, said to be estimates in the README. Seconds.
ESTIMATES = {
    # notebook: (cpu seconds or None, gpu seconds, how it was estimated)
    "week05/resnet_implementation.ipynb": (
        12 * 3600, 15 * 60,
        "ResNet-18 30 에폭 + 비교 실험: CPU는 에폭당 약 20분(2코어)으로 추정, GPU는 에폭당 10~20초로 추정"),
    "week05/attention_mechanisms.ipynb": (
        110 * 60, 10 * 60,
        "CPU: benchmarks/results/cpu/seq2seq_bleu.md의 12에폭 학습 103분 + 비교 실험; GPU는 추정"),
    "week05/lstm_implementation.ipynb": (None, 2 * 60, "GPU는 추정 (작은 LSTM이라 CPU와 큰 차이 없음)"),
    "week06/self_attention_optimized.ipynb": (None, 60, "GPU는 추정"),
    "week03/foundations.ipynb": (None, 5 * 60, "NumPy 위주라 GPU로 빨라지지 않음 (추정)"),
}


def student_requirements(root: Path) -> list[str]:
    lines = []
    for line in (root / "requirements.txt").read_text(encoding="utf-8").splitlines():
        pin = line.split("#")[0].strip()
        if pin and pin.split("==")[0].strip().lower() not in INSTRUCTOR_ONLY:
            lines.append(pin)
    return lines


def _minutes(seconds: float) -> str:
    if seconds >= 3600:
        return f"약 {seconds / 3600:.0f}시간"
    return f"약 {max(1, round(seconds / 60))}분"


def run_times(root: Path) -> list[dict]:
    """One row per released notebook: full-mode time on a CPU and a GPU, measured or estimated."""
    measured = {}
    for path in (root / "benchmarks" / "results").glob("*/*-full/timings.json"):
        data = json.loads(path.read_text(encoding="utf-8"))
        measured[(data["notebook"], path.parts[-3])] = (data["total_seconds"], path.relative_to(root).as_posix())
    rows = []
    for nb in sorted((root / "release").glob("*/*.ipynb")):
        rel = nb.relative_to(root / "release").as_posix()
        cpu_est, gpu_est, how = ESTIMATES.get(rel, (None, None, "측정 전"))
        row = {"notebook": rel}
        if (rel, "cpu") in measured:
            seconds, where = measured[(rel, "cpu")]
            row["cpu"] = f"{_minutes(seconds)} (측정: `{where}`, 2코어)"
        else:
            row["cpu"] = f"{_minutes(cpu_est)} (추정)" if cpu_est else "측정 전"
        if (rel, "gpu") in measured:
            seconds, where = measured[(rel, "gpu")]
            row["gpu"] = f"{_minutes(seconds)} (측정: `{where}`)"
        else:
            row["gpu"] = f"{_minutes(gpu_est)} (추정)" if gpu_est else "측정 전"
        row["note"] = how
        rows.append(row)
    return rows


README = """# Phase 2 — 딥러닝 심화와 트랜스포머: 학생용 배포본

이 폴더에는 과제 노트북, 과정 라이브러리(`dlcourse`), 필요한 패키지 목록이 들어 있습니다.
정답이나 채점용 숨겨진 검사는 들어 있지 않습니다.

## 1. 설치 (Python 3.11)

```bash
python3 -m venv .venv
source .venv/bin/activate            # Windows: .venv\\Scripts\\activate
pip install -r requirements.txt
pip install {wheel}
python -m dlcourse.student setup --exchange {exchange}
```

마지막 줄은 JupyterLab 설정을 씁니다: 제출 폴더(exchange), 과정의 Validate(검증) 설정, 그리고 강사용 도구
(Formgrader, Create Assignment)를 끕니다. GPU가 있으면 PyTorch 설치 안내(https://pytorch.org)에 따라 CUDA용
`torch`를 먼저 설치해도 됩니다.

## 2. 데이터

노트북은 인터넷에서 아무것도 내려받지 않습니다. 강사가 나눠 주는 데이터 폴더(`data/`가 이 배포본에 들어 있으면 그것)를
한 곳에 두고 그 위치를 알려 주세요:

```bash
export DLCOURSE_DATA_ROOT=/path/to/data   # 기본값: ~/dlcourse_data
```

| 폴더 | 쓰는 노트북 |
|---|---|
| `cifar10/cifar10-jpg.tar.gz` (또는 torchvision의 `cifar10/cifar-10-batches-py/`) | 5주차 ResNet |
| `multi30k/{{train,val,test_2016_flickr}}.{{en,de}}.gz` | 5주차 어텐션 |
| `mnist/`, `air_quality/` | 3주차 |
| `multi30k/` | 7주차 위치 인코딩, 7주차 트랜스포머 번역 |
| `nsmc/` | 8주차 중간 프로젝트 (네이버 영화 리뷰 감성 분류) |
| `tinyshakespeare/` | 8주차 GPT 생성 실습 |

CO₂ 같은 시계열은 `statsmodels`에 들어 있어 따로 받을 필요가 없습니다. 파일이 없으면 노트북이 무엇을 어디에 두어야
하는지 알려 주는 오류를 냅니다.

## 3. 열기와 풀기

```bash
jupyter lab
```

- **과제 받기**: 메뉴 *Nbgrader → Assignment List*에서 과제(예: `week05`)의 **Fetch**를 누르면 노트북이
  `week05/` 폴더에 생깁니다. (exchange가 없는 수업에서는 이 배포본의 `week05/` 폴더를 그대로 씁니다.)
- 노트북의 첫 코드 셀(설정 셀)을 실행하면 실행 모드, 장치(CPU/GPU), 데이터 위치가 출력됩니다.
- `raise NotImplementedError()`가 있는 셀을 구현하고, 바로 아래의 공개 검사(visible check) 셀을 실행해 확인하세요.
  실패하면 어느 부분(예: "1.1 기본 잔차 블록")에서 무엇이 틀렸는지 한국어로 알려 줍니다.
- 실험 셀은 실제 학습을 합니다(full 모드). 학습 결과(그림, 표)는 노트북과 `feature_visualization/` 같은 폴더에 남습니다.
- 진행 막대(progress bar)는 끝나면 마지막 상태를 한 줄의 글로 남기므로, 저장했다 다시 열어도 읽을 수 있습니다.
- 서술형 질문은 "여기에 답을 작성하세요" 칸에 씁니다. 수식은 `$...$`.

## 4. 검증 (Validate)

노트북 위쪽 도구 모음의 **Validate** 버튼(또는 `nbgrader validate week05/resnet_implementation.ipynb`)은 노트북을
처음부터 채점 때처럼 실행해 보고, 아직 끝나지 않았거나 공개 검사를 통과하지 못한 구현 부분과 아직 쓰지 않은 서술형 답을
제목으로 알려 줍니다. 학습 실험 셀은 실행하지 않으므로 몇십 초면 끝납니다. 모두 통과하면
"검증 통과"가 나옵니다. 점수는 제출 뒤 숨겨진 검사와 채점자가 정합니다.

## 5. 제출 (hand in)

- **Assignment List가 있는 수업**: 노트북을 저장한 뒤 *Nbgrader → Assignment List*의 Downloaded 목록에서 과제의
  **Submit**을 누릅니다. Submitted 목록에 제출 시각이 나타나면 끝입니다. 다시 제출하면 마지막 제출이 채점됩니다.
- **파일로 내는 수업**: 아래 명령으로 만든 zip 파일을 강사가 안내한 곳(LMS 등)에 올립니다.

  ```bash
  python -m dlcourse.student zip week05 --student <학번>
  ```

채점 결과(피드백 HTML)는 Assignment List의 **Fetch Feedback**으로 받거나 강사가 따로 보내 줍니다.

## 6. 노트북별 예상 실행 시간 (full 모드, 처음부터 끝까지)

CPU 값은 이 과정의 2코어 기계에서 잰 값(`benchmarks/results/cpu/`)이 있으면 그 값이고, 없으면 추정입니다.
GPU 값은 모두 추정입니다. 긴 학습은 체크포인트로 저장되어 두 번째 실행부터는 불러옵니다.

| 노트북 | CPU | GPU | 비고 |
|---|---|---|---|
{times}

빠르게 전체 흐름만 확인하려면 `DLCOURSE_MODE=fast jupyter lab`으로 실행하세요(셀당 몇 초, 그림 제목에 "fast mode"가
붙으며 결과로 쓰면 안 됩니다).
"""


def build(root: Path, out: Path, *, exchange: str | None = None, data: Path | None = None) -> Path:
    """Build ``out/student-bundle`` and ``out/student-bundle.zip`` (see the module docstring)."""
    from .__main__ import build_student_wheel
    from dlcourse.student import DEFAULT_EXCHANGE

    root, out = Path(root), Path(out)
    bundle = out / "student-bundle"
    if bundle.exists():
        shutil.rmtree(bundle)
    bundle.mkdir(parents=True)
    for nb in sorted((root / "release").glob("*/*.ipynb")):
        text = nb.read_text(encoding="utf-8")
        for marker in ("dlcourse_staff", "BEGIN SOLUTION", "BEGIN HIDDEN TESTS"):
            if marker in text:
                raise RuntimeError(f"release/{nb.relative_to(root / 'release')}에 {marker}가 있습니다: make release")
        (bundle / nb.parent.name).mkdir(exist_ok=True)
        shutil.copy(nb, bundle / nb.parent.name / nb.name)
    wheel = build_student_wheel(root, bundle)
    (bundle / "requirements.txt").write_text(
        "# Phase 2 학생용 패키지 (강사용 requirements.txt의 같은 버전에서 채점·테스트 도구를 뺀 것)\n"
        + "\n".join(student_requirements(root)) + "\n", encoding="utf-8")
    times = "\n".join(f"| `{r['notebook']}` | {r['cpu']} | {r['gpu']} | {r['note']} |" for r in run_times(root))
    (bundle / "README.md").write_text(README.format(wheel=wheel.name, exchange=exchange or DEFAULT_EXCHANGE,
                                                    times=times), encoding="utf-8")
    if data is not None:
        shutil.copytree(data, bundle / "data")
    archive = shutil.make_archive(str(out / "student-bundle"), "zip", root_dir=out, base_dir="student-bundle")
    assert Path(archive).exists()
    if list(bundle.rglob("*staff*")):
        raise RuntimeError("the student bundle must not contain the instructor package")
    return bundle

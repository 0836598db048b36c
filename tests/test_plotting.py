"""Plot helpers save where asked, always set titles and axis labels, and explain bad shapes."""
import matplotlib.pyplot as plt
import pytest
import torch

from dlcourse import plotting
from dlcourse.training import EpochRecord, History


def test_lines_and_history_have_titles_and_labels(tmp_path):
    fig = plotting.plot_lines({"a": [1, 2, 3], "b": [3, 2, 1]}, xlabel="step", ylabel="loss", title="T",
                              logy=True, path=tmp_path / "sub" / "lines.png")
    ax = fig.axes[0]
    assert (ax.get_title(), ax.get_xlabel(), ax.get_ylabel()) == ("T", "step", "loss")
    assert (tmp_path / "sub" / "lines.png").stat().st_size > 0
    history = History(epochs=[EpochRecord(e, 1.0 / e, 50.0 + e, 0.1, 1.0, 1.2 / e, 45.0 + e) for e in (1, 2)])
    fig = plotting.plot_history(history, title="run", path=tmp_path / "h.png")
    assert [a.get_ylabel() for a in fig.axes] == ["loss", "accuracy (%)"]
    assert all(a.get_title() for a in fig.axes)
    plt.close("all")


def test_grids_and_overlays(tmp_path):
    fig = plotting.image_grid(torch.rand(10, 3, 8, 8), title="rgb", ncols=4, path=tmp_path / "g.png")
    assert fig._suptitle.get_text() == "rgb" and len(fig.axes) == 12
    plotting.image_grid(torch.rand(3, 1, 8, 8), title="gray", cmap="gray")
    fig = plotting.overlay_heatmaps(torch.randint(0, 256, (2, 3, 8, 8)), torch.rand(2, 8, 8), title="cam",
                                    titles=["a", "b"], path=tmp_path / "o.png")
    assert [a.get_title() for a in fig.axes] == ["a", "b"]
    plotting.feature_map_rows({"stem": torch.rand(4, 8, 8), "stage1": torch.rand(8, 4, 4)}, title="maps",
                              path=tmp_path / "f.png")
    assert all((tmp_path / n).exists() for n in ("g.png", "o.png", "f.png"))
    plt.close("all")


def test_bad_shapes_are_explained():
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\).*\(2, 5, 8, 8\)"):
        plotting.image_grid(torch.rand(2, 5, 8, 8), title="x")
    with pytest.raises(ValueError, match="모양이 맞지 않습니다"):
        plotting.overlay_heatmaps(torch.rand(2, 3, 8, 8), torch.rand(3, 8, 8), title="x")
    with pytest.raises(ValueError, match="비어"):
        plotting.plot_lines({}, xlabel="x", ylabel="y", title="t")

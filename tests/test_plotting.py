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


def test_integer_quantities_get_integer_ticks():
    fig = plotting.plot_lines({"loss": [3.0, 2.0, 1.5, 1.2, 1.1, 1.0, 0.9]}, xlabel="epoch", ylabel="loss", title="t")
    fig.canvas.draw()
    ticks = [t for t in fig.axes[0].get_xticks() if fig.axes[0].get_xlim()[0] <= t <= fig.axes[0].get_xlim()[1]]
    assert ticks and all(float(t).is_integer() for t in ticks), ticks
    fig = plotting.plot_lines({"a": [1, 2]}, x=[0.5, 1.5], xlabel="x", ylabel="y", title="t")
    fig.canvas.draw()
    assert not all(float(t).is_integer() for t in fig.axes[0].get_xticks())  # real-valued x keeps its ticks
    fig, ax = plt.subplots()
    ax.plot([3, 5, 7], [1, 2, 3])
    plotting.integer_ticks(ax)
    fig.canvas.draw()
    assert all(float(t).is_integer() for t in ax.get_xticks())
    plt.close("all")


def test_side_by_side_panels_share_their_y_range():
    fig, axes = plt.subplots(1, 2)
    plotting.plot_lines({"train": [50, 90, 99]}, xlabel="epoch", ylabel="accuracy (%)", title="a", ax=axes[0])
    plotting.plot_lines({"train": [40, 60, 70]}, xlabel="epoch", ylabel="accuracy (%)", title="b", ax=axes[1])
    plotting.share_y(axes)
    assert axes[0].get_ylim() == axes[1].get_ylim()
    assert axes[0].get_ylim()[0] <= 40 and axes[0].get_ylim()[1] >= 99
    plt.close("all")


def test_fast_mode_figures_say_so_in_their_title(tmp_path, monkeypatch):
    import dlcourse as dl

    monkeypatch.setenv("DLCOURSE_MODE", "fast")
    dl.setup(quiet=True)
    try:
        fig = plotting.plot_lines({"a": [1, 2, 3]}, xlabel="x", ylabel="y", title="loss", path=tmp_path / "a.png")
        assert fig.axes[0].get_title() == "loss (fast mode)"
        fig, axes = plt.subplots(1, 2)          # hand-made figure: stamped when drawn
        fig.suptitle("two panels")
        fig.canvas.draw()
        assert fig._suptitle.get_text() == "two panels (fast mode)"
        fig.canvas.draw()
        assert fig._suptitle.get_text() == "two panels (fast mode)"   # once
        fig = plotting.image_grid(torch.rand(2, 3, 4, 4), title="grid")
        fig.canvas.draw()
        assert fig._suptitle.get_text() == "grid (fast mode)"
    finally:
        monkeypatch.delenv("DLCOURSE_MODE")
        dl.setup(quiet=True)
    fig = plotting.plot_lines({"a": [1, 2, 3]}, xlabel="x", ylabel="y", title="loss", path=tmp_path / "b.png")
    fig.canvas.draw()
    assert fig.axes[0].get_title() == "loss"
    plt.close("all")

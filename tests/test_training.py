"""The training loop learns, reports, and loads or trains exactly once per configuration."""
import torch
from torch import nn

from dlcourse import training


def _toy_data(n=256, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 2, generator=g)
    y = (x[:, 0] + x[:, 1] > 0).long()
    return [(x[i:i + 32], y[i:i + 32]) for i in range(0, n, 32)]


def _fit(model, epochs=5, **kw):
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    return training.fit(model, _toy_data(), epochs=epochs, optimizer=opt, device="cpu",
                        eval_batches=_toy_data(seed=1), **kw)


def test_fit_learns_and_records_history(capsys):
    torch.manual_seed(0)
    history = _fit(nn.Linear(2, 2), grad_clip=1.0)
    assert [r.epoch for r in history.epochs] == [1, 2, 3, 4, 5]
    assert history.epochs[-1].train_loss < history.epochs[0].train_loss
    assert history.epochs[-1].test_acc > 90
    assert "epoch 5/5" in capsys.readouterr().out


def test_max_steps_stops_early():
    history = _fit(nn.Linear(2, 2), epochs=3, max_steps=3)
    assert len(history.epochs) == 1


def test_load_or_train_trains_once_per_config(tmp_path):
    calls = []
    path = tmp_path / "ckpt" / "model.pt"

    def run(model):
        return lambda: calls.append(1) or _fit(model, epochs=1)

    m1 = nn.Linear(2, 2)
    h1 = training.load_or_train(path, m1, run(m1), meta={"lr": 0.5})
    m2 = nn.Linear(2, 2)
    h2 = training.load_or_train(path, m2, run(m2), meta={"lr": 0.5})
    assert len(calls) == 1 and path.exists()
    assert torch.equal(m1.weight, m2.weight)
    assert h1.to_dict() == h2.to_dict()
    training.load_or_train(path, m2, run(m2), meta={"lr": 0.1})
    assert len(calls) == 2


def test_disabled_checkpoints_never_touch_disk(tmp_path):
    path = tmp_path / "model.pt"
    m = nn.Linear(2, 2)
    training.load_or_train(path, m, lambda: _fit(m, epochs=1), enabled=False)
    assert not path.exists()


def test_progress_bars_leave_text_not_widgets_in_a_saved_notebook(tmp_path):
    """A notebook that trained, saved and read back holds one readable final line per bar and
    no widget view (which a reopened notebook or its feedback could not display)."""
    import nbformat
    from nbclient import NotebookClient

    code = ("import torch, dlcourse as dl\n"
            "from torch import nn\n"
            "x = torch.randn(64, 2); y = (x.sum(1) > 0).long()\n"
            "batches = [(x[i:i + 16], y[i:i + 16]) for i in range(0, 64, 16)]\n"
            "m = nn.Linear(2, 2)\n"
            "h = dl.training.fit(m, batches, epochs=2, optimizer=torch.optim.SGD(m.parameters(), lr=0.1), device='cpu')\n"
            "for _ in dl.training.progress(range(5), desc='own loop'):\n"
            "    pass\n")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
    NotebookClient(nb, timeout=120, kernel_name="python3").execute()
    nbformat.write(nb, str(tmp_path / "saved.ipynb"))
    outputs = nbformat.read(str(tmp_path / "saved.ipynb"), 4).cells[0].outputs
    assert not [o for o in outputs if o.get("output_type") == "error"], outputs
    assert not [o for o in outputs if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
    lines = [o["data"]["text/plain"] for o in outputs if o.get("output_type") == "display_data"]
    assert len(lines) == 3, lines
    assert lines[0].startswith("train 1/2: 100%|") and lines[1].startswith("train 2/2: 100%|")
    assert lines[2].startswith("own loop: 100%|") and "5/5" in lines[2]
    assert "loss=" in lines[0]

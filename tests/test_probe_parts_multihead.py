"""The stand-in model that grades week06/multihead_analysis's importance functions: it has the
notebook's interface, a gate of 0 removes its head exactly, and dropout makes training mode differ."""
import torch

from dlcourse.probe_parts import GatedMixer, GatedProbeModel


def test_interface_and_shapes():
    model = GatedProbeModel(vocab=7, dim=6, num_heads=3, num_layers=2)
    layers = model.attention_layers()
    assert len(layers) == 2 and all(isinstance(l, GatedMixer) for l in layers)
    assert all(l.gate.shape == (3,) and l.num_heads == 3 for l in layers)
    loss = model.eval().loss(torch.randint(7, (4, 5)))
    assert loss.dim() == 0 and torch.isfinite(loss)
    grads = torch.autograd.grad(loss, [l.gate for l in layers])
    assert all(g.shape == (3,) and bool(g.abs().sum() > 0) for g in grads)


def test_zero_gate_removes_its_head_exactly():
    torch.manual_seed(0)
    mixer = GatedMixer(dim=8, num_heads=4)
    x = torch.randn(2, 5, 8)
    with torch.no_grad():
        mixer.gate[1] = 0.0
        before = mixer(x)
        mixer.heads.weight[2:4] = torch.randn(2, 8)  # head 1 owns features 2 and 3
        after = mixer(x)
    assert torch.equal(before, after)


def test_training_mode_differs_through_dropout():
    torch.manual_seed(0)
    model = GatedProbeModel()
    batch = torch.randint(11, (4, 6))
    eval_loss = model.eval().loss(batch).item()
    assert model.eval().loss(batch).item() == eval_loss
    assert model.train().loss(batch).item() != eval_loss

import math

import pytest
import torch
from torch import nn

from nasforge.architecture import Architecture
from nasforge.errors import ConfigError
from nasforge.supernet.gated_nb201 import GatedNB201Supernet
from nasforge.supernet.gates import ChannelGate, GateBank, regulariser
from nasforge.task import Shape


def one_gate(p=0.3, tau=0.5, units=4):
    bank = GateBank(["conv"], ["k3"], init_p=p, tau=tau)
    conv = nn.Conv1d(units, 2, 3, bias=False)
    gate = ChannelGate(bank, 0, 0, units=units, fan_in=units, owner=conv)
    return bank, gate, conv


def test_relaxed_gate_gradient_matches_finite_differences():
    bank, gate, conv = one_gate()
    bank.set_mode("relaxed")
    x = torch.randn(8, 4, 6)

    def loss(logit: float) -> torch.Tensor:
        with torch.no_grad():
            bank.logit_p.fill_(logit)
        torch.manual_seed(0)  # the same relaxation noise for every evaluation
        return conv(gate(x)).pow(2).mean()

    value = loss(-0.5)
    bank.logit_p.grad = None
    value.backward()
    analytic = float(bank.logit_p.grad)
    eps = 1e-3
    numeric = (float(loss(-0.5 + eps).detach()) - float(loss(-0.5 - eps).detach())) / (2 * eps)
    assert analytic != 0 and analytic == pytest.approx(numeric, rel=1e-2)


def test_regulariser_terms_against_a_hand_computation():
    bank, gate, conv = one_gate(p=0.3, units=4)
    n, l2 = 1000, 4.0
    p = 0.3
    squared = float((conv.weight.detach() ** 2).sum())
    weight = 0.5 * l2 * (1 - p) * squared / n
    entropy = 4 * (p * math.log(p) + (1 - p) * math.log(1 - p)) / n
    got = regulariser(bank, n, l2).item()
    assert got == pytest.approx(weight + entropy, rel=1e-5)
    constant = 0.5 * l2 * (1 - 0.1) * squared / n + entropy  # the constant-L2 ablation
    assert regulariser(bank, n, l2, p_dependent=False, init_p=0.1).item() == pytest.approx(
        constant, rel=1e-5)


def test_sampled_masks_keep_units_with_probability_one_minus_p():
    bank, _, _ = one_gate(p=0.3, units=2000)
    generator = torch.Generator().manual_seed(0)
    kept = torch.stack([bank.sample_masks(generator)[(0, 0)] for _ in range(5)]).mean()
    assert float(kept) == pytest.approx(0.7, abs=0.01)
    fixed = bank.sample_masks(generator, rate=0.5)[(0, 0)].mean()
    assert float(fixed) == pytest.approx(0.5, abs=0.03)


def test_hard_masks_are_shared_by_every_image_and_drop_exactly():
    bank, gate, _ = one_gate(units=4)
    bank.set_masks({(0, 0): torch.tensor([1.0, 0.0, 1.0, 0.0])})
    out = gate(torch.ones(3, 4, 5))
    assert torch.equal(out[:, 1], torch.zeros(3, 5)) and torch.equal(out[:, 0], torch.ones(3, 5))


def test_export_of_a_candidate_reproduces_the_supernet():
    net = GatedNB201Supernet(Shape((1, 16), 3), C=4, N=1)
    x = torch.randn(5, 1, 16)
    net.train()
    net.bank.set_mode("relaxed")
    net(x)  # some batch-norm statistics
    masks = net.bank.sample_masks(torch.Generator().manual_seed(1))
    arch = net.architecture_of(masks)
    net.bank.set_masks(net.masks_for(arch))
    net.eval()
    model = net.export(arch).eval()
    with torch.no_grad():
        assert torch.allclose(model(x), net(x), atol=1e-6)
    # the mapping: kept op with the lowest drop probability, none where nothing is kept
    nothing = {key: torch.zeros(1) for key in masks}
    assert set(net.architecture_of(nothing).values()) == {"none"}
    assert isinstance(arch, Architecture)


def test_ops_of_equal_drop_probability_tie_at_random_not_to_the_first_op():
    net = GatedNB201Supernet(Shape((1, 16), 3), C=4, N=1)  # p untrained: every op ties
    generator = torch.Generator().manual_seed(0)
    cells = [net.architecture_of(net.bank.sample_masks(generator, rate=0.1))
             for _ in range(50)]
    picked = [op for cell in cells for op in cell.values()]
    for op in net.ops:  # each op wins about a quarter of the edges (a tie always went to skip)
        assert 0.15 < picked.count(op) / len(picked) < 0.35, op
    masks = net.bank.sample_masks(generator, rate=0.1)
    assert net.architecture_of(masks) == net.architecture_of(dict(masks))  # same mask, cell
    with torch.no_grad():  # a learned posterior decides: the lowest p among the kept ops
        net.bank.logit_p.copy_(torch.linspace(-3, 3, net.bank.logit_p.numel()).view_as(
            net.bank.logit_p))
    everything = {key: torch.ones_like(mask) for key, mask in masks.items()}
    probs = net.bank.drop_probs().detach()
    expected = {label: net.ops[int(probs[e].argmin())] for e, label in
                enumerate(net.bank.layers)}
    assert dict(net.architecture_of(everything)) == expected


def test_bad_gate_settings_and_checkpoints():
    with pytest.raises(ValueError):
        GateBank(["a"], ["b"], tau=0.0)
    net = GatedNB201Supernet(Shape((1, 16), 3), C=4, N=1)
    state = net.state_dict()
    state["bank.logit_p"] = torch.full_like(state["bank.logit_p"], float("inf"))
    with pytest.raises(ConfigError, match="outside"):
        net.load_state_dict(state)


def test_mean_drop_rate_weights_each_gate_by_its_units():
    bank = GateBank(["conv"], ["a", "b"], init_p=0.5, tau=0.5)
    ChannelGate(bank, 0, 0, units=3, fan_in=3, owner=nn.Conv1d(3, 2, 1))
    ChannelGate(bank, 0, 1, units=1, fan_in=1, owner=nn.Conv1d(1, 2, 1))
    with torch.no_grad():
        bank.logit_p.copy_(torch.logit(torch.tensor([[0.2, 0.6]])))
    assert bank.mean_drop_rate() == pytest.approx((3 * 0.2 + 1 * 0.6) / 4, rel=1e-5)
    generator = torch.Generator().manual_seed(0)
    masks = [bank.sample_masks(generator, rate=bank.mean_drop_rate()) for _ in range(3000)]
    dropped = 1 - torch.stack([torch.cat([m[(0, 0)], m[(0, 1)]]) for m in masks]).mean()
    assert float(dropped) == pytest.approx(0.3, abs=0.01)

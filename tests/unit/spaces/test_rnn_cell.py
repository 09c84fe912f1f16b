"""The recurrent-cell space of Zoph & Le (2017, Sec. 3.4): Fig. 5's worked example, the
decisions the controller emits, building and running sampled cells, the text form."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from nasforge.errors import ArchitectureError, ConfigError
from nasforge.nn.rnn_cell import RecurrentLayer, TreeCell, tree_level
from nasforge.report.cells import draw_cell, find_drawer
from nasforge.report.rnn_cells import draw_rnn_cell
from nasforge.spaces.rnn_cell import RnnCellSpace, token_shape
from nasforge.strategies.controller import RLController
from nasforge.task import Shape

# Fig. 5: Add/Tanh, ElemMult/ReLU, ElemMult/Sigmoid, cell inject Add/ReLU, cell indices 1, 0
FIG5 = "0:add/tanh 1:elem_mult/relu 2:elem_mult/sigmoid inject:add/relu c_t:1 c_prev:0"
FIG5_TOKENS = ["add", "tanh", "elem_mult", "relu", "elem_mult", "sigmoid", "add", "relu", 1, 0]


def test_fig5_computes_the_papers_equations():
    space = RnnCellSpace(base=2)
    torch.manual_seed(0)
    cell = TreeCell(space.spec(space.parse(FIG5)), input_size=3, hidden_size=4)
    x, h, c = torch.randn(5, 3), torch.randn(5, 4), torch.randn(5, 4)
    (w1, w2), (w3, w4) = cell.leaf_weights(0), cell.leaf_weights(1)
    a0 = torch.tanh(x @ w1.T + h @ w2.T)  # tree index 0: Add, Tanh
    a1 = torch.relu((x @ w3.T) * (h @ w4.T))  # tree index 1: ElemMult, ReLU
    a0_new = torch.relu(a0 + c)  # cell index 2nd = 0, cell inject Add, ReLU
    a2 = torch.sigmoid(a0_new * a1)  # tree index 2: ElemMult, Sigmoid; h_t = a_2
    c_t = (x @ w3.T) * (h @ w4.T)  # cell index 1st = 1: node 1 before its activation
    h_out, c_out = cell(x, (h, c))
    torch.testing.assert_close(h_out, a2)
    torch.testing.assert_close(c_out, c_t)


def test_decisions_in_the_controllers_order():
    space = RnnCellSpace(base=2)
    labels = [d.label for d in space.decisions]
    assert labels == ["node00_comb", "node00_act", "node01_comb", "node01_act", "node02_comb",
                      "node02_act", "inject_comb", "inject_act", "c_t_node", "c_prev_node"]
    arch = space.parse(FIG5)
    assert [arch[label] for label in labels] == FIG5_TOKENS


def test_the_papers_base_8_space():
    space = RnnCellSpace()  # base 8, as in the PTB search
    assert len(space.decisions) == 15 * 2 + 2 + 2
    assert space.size() == 8 ** 15 * 8 * 15 ** 2
    assert 5e16 < space.size() < 7e16  # "approximately 6 x 10^16"


def test_tree_indexing():
    spec = RnnCellSpace(base=4).spec(RnnCellSpace(base=4).sample(np.random.default_rng(0)))
    assert [spec.children(n) for n in (4, 5, 6)] == [(0, 1), (2, 3), (4, 5)]
    assert [tree_level(8, n) for n in (0, 7, 8, 11, 12, 13, 14)] == [0, 0, 1, 1, 2, 2, 3]
    with pytest.raises(ConfigError):
        RnnCellSpace(base=3)


@pytest.mark.parametrize("base", [2, 4])
def test_sampled_cells_build_and_train(base):
    space = RnnCellSpace(base=base, hidden=8, layers=2, dropout=0.1)
    shape = token_shape(vocab_size=11, bptt=5)
    rng = np.random.default_rng(base)
    tokens = torch.randint(0, 11, (5, 3))
    for _ in range(10):
        arch = space.sample(rng)
        model = space.build(arch, shape)
        logits, state = model(tokens)
        assert logits.shape == (5, 3, 11) and len(state) == 2
        loss = torch.nn.functional.cross_entropy(logits.flatten(0, 1), tokens.flatten())
        loss.backward()
        assert torch.isfinite(loss)
        assert all(p.grad is not None for p in model.parameters())


def test_state_is_carried_across_windows():
    space = RnnCellSpace(base=2, hidden=6)
    spec = space.spec(space.parse(FIG5))
    torch.manual_seed(1)
    layer = RecurrentLayer(spec, input_size=4, hidden_size=6)
    x = torch.randn(8, 2, 4)
    whole, final = layer(x)
    first, state = layer(x[:5])
    second, again = layer(x[5:], state)
    torch.testing.assert_close(torch.cat([first, second]), whole)
    torch.testing.assert_close(again[0], final[0])
    torch.testing.assert_close(again[1], final[1])


def test_weight_tying_and_the_lstm_baseline():
    shape = token_shape(vocab_size=13, bptt=4)
    arch = RnnCellSpace(base=2).parse(FIG5)
    tied = RnnCellSpace(base=2, hidden=8).build(arch, shape)
    assert tied.decoder.weight is tied.embedding.weight
    untied = RnnCellSpace(base=2, hidden=8, emb=6).build(arch, shape)
    assert untied.decoder.weight is not untied.embedding.weight
    lstm = RnnCellSpace(base=2, hidden=8).build_lstm_baseline(shape)
    logits, _ = lstm(torch.randint(0, 13, (4, 2)))
    assert logits.shape == (4, 2, 13) and lstm.rnns[0].lstm.hidden_size == 8


def test_cost_counts_parameters():
    space = RnnCellSpace(base=4, hidden=8)
    arch = space.sample(np.random.default_rng(0))
    for shape in (token_shape(20, 7), Shape((3, 6, 6), 5)):
        cost = space.cost(arch, shape)
        model = space.build(arch, shape)
        assert cost.params == sum(p.numel() for p in model.parameters()) and cost.flops > 0
    # tied LM: embedding 20x8, decoder bias 20, W and U 8 -> 4*8 each
    assert space.cost(arch, token_shape(20, 7)).params == 20 * 8 + 20 + 2 * 8 * 32


def test_format_parse_round_trip():
    space = RnnCellSpace(base=4)
    rng = np.random.default_rng(3)
    for _ in range(10):
        arch = space.sample(rng)
        assert space.parse(space.format(arch)) == arch
        assert space.parse(arch.to_json()) == arch
    fig5 = RnnCellSpace(base=2)
    assert fig5.format(fig5.parse(FIG5)) == FIG5


@pytest.mark.parametrize("text", ["0:add/tanh", FIG5.replace("tanh", "gelu"),
                                  FIG5.replace("c_t:1", "c_t:9"), FIG5 + " extra"])
def test_parse_rejects_bad_text(text):
    with pytest.raises(ArchitectureError):
        RnnCellSpace(base=2).parse(text)


def test_the_controller_emits_every_decision_in_order():
    space = RnnCellSpace(base=2)
    controller = RLController(space, seed=0)
    assert [step.kind for step in controller.layout.steps(0)] == [
        d.label for d in space.decisions]
    assert all(space.contains(controller.ask()) for _ in range(5))


def test_the_cell_drawer(tmp_path: Path):
    space = RnnCellSpace(base=2)
    assert find_drawer(space) is draw_rnn_cell
    path = draw_cell(space, space.parse(FIG5), tmp_path / "cell.png", title="Fig. 5")
    assert path.is_file() and path.stat().st_size > 1000

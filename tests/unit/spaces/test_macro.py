import numpy as np
import pytest
import torch

from nasforge.architecture import Architecture
from nasforge.errors import ArchitectureError, ConfigError
from nasforge.registry import SPACES
from nasforge.spaces.macro import MacroNet, MacroSpace
from nasforge.task import Shape

SHAPES = [Shape((3, 16, 16), 4), Shape((1, 40), 3)]


def space():
    return MacroSpace(max_layers=4, filter_counts=[4, 8], stem_channels=4, search_stride=True,
                      search_type=True, learning_rates=[0.1, 0.01])


def arch(s, depth=4, **values):
    base = {d.label: d.options[0] for d in s.decisions}
    base.update(depth=depth, **values)
    return Architecture(base)


def test_rule_1_a_layer_without_inputs_reads_the_image():
    s = space()
    net = s.build(arch(s), SHAPES[0])
    assert isinstance(net, MacroNet) and net.inputs == [[-1], [-1], [-1], [-1]]


def test_rule_2_unconsumed_outputs_feed_the_classifier():
    s = space()
    a = arch(s, **{"L02/in00": 1, "L03/in01": 1, "L00/filters": 4, "L01/filters": 8,
                   "L02/filters": 8, "L03/filters": 4})
    net = s.build(a, SHAPES[0])
    assert net.heads == [2, 3]  # 0 feeds 2, 1 feeds 3
    assert net.classifier.in_features == 8 + 4


def test_rule_3_inputs_of_different_sizes_are_zero_padded():
    s = space()
    a = arch(s, depth=3, **{"L00/stride": 2, "L02/in00": 1, "L02/in01": 1})
    net = s.build(a, SHAPES[0])
    assert net(torch.randn(2, 3, 16, 16)).shape == (2, 4)  # 8x8 and 16x16 concatenated


@pytest.mark.parametrize("shape", SHAPES, ids=["2d", "1d"])
def test_adversarial_descriptions_all_build(shape):
    s = space()
    rng = np.random.default_rng(0)
    cases = [arch(s, depth=d) for d in (1, 4)]
    cases += [arch(s, **{lab: 1 for lab in s.anchor_decisions()})]  # every connection
    cases += [arch(s, **{f"L{i:02d}/stride": 2 for i in range(4)})]  # stride everywhere
    cases += [arch(s, **{f"L{i:02d}/type": "max_pool" for i in range(4)})]  # pooling only
    cases += [s.sample(rng) for _ in range(30)]
    for a in cases:
        out = s.build(a, shape)(torch.randn(2, *shape.input_shape))
        assert out.shape == (2, shape.num_classes)


def test_key_ignores_unused_layers_and_text_round_trips():
    s = space()
    a = arch(s, depth=2)
    assert s.key(a) == s.key(a.replace(**{"L03/filters": 8, "L03/in01": 1}))
    assert s.key(a) != s.key(a.replace(**{"L01/filters": 8}))
    rng = np.random.default_rng(1)
    for _ in range(200):
        b = s.sample(rng)
        assert s.parse(s.format(b)) == b
    assert s.training_overrides(a) == {"lr": 0.1}
    assert SPACES.build("macro", **s.options()).decisions == s.decisions
    with pytest.raises(ArchitectureError):
        s.parse("conv:3x3/4")
    with pytest.raises(ConfigError):
        MacroSpace(min_layers=3, max_layers=2)


def test_the_learning_rate_token_reaches_the_train_evaluator():
    from nasforge.data.base import tensor_task
    from nasforge.evaluators.train import TrainEvaluator

    s = MacroSpace(max_layers=2, filter_counts=[4], stem_channels=4, learning_rates=[0.5, 0.01])
    gen = np.random.default_rng(0)
    x = gen.normal(size=(40, 1, 12)).astype(np.float32)
    y = (x[:, 0, :3].sum(1) > 0).astype(np.int64)
    task = tensor_task("tiny", x[:32], y[:32], x[32:], y[32:], num_classes=2, seed=0,
                       batch_size=16)
    evaluator = TrainEvaluator(s, task, epochs=1, lr=0.1)
    a = arch(s, depth=2, lr=0.01)
    assert evaluator._settings_for(a).lr == 0.01
    result = evaluator.evaluate(a)
    assert result.metrics["valid_acc_max5"] >= result.metrics["valid_acc"]


def test_the_drawing_shows_the_repaired_wiring(tmp_path):
    from nasforge.report.cells import _macro_wiring, draw_cell

    s = space()
    a = arch(s, depth=3, **{"L02/in00": 1})
    assert _macro_wiring(s, a) == ([[-1], [-1], [0]], [1, 2])
    assert draw_cell(s, a, tmp_path / "net.png").is_file()

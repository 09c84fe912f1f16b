import pytest
import torch
from torch import nn

from nasforge.nn.layers import SubsampledPointwiseConv1d, SubsampledPointwiseConv2d, conv


@pytest.mark.parametrize("dim", [1, 2])
def test_a_strided_pointwise_conv_is_subsampled_with_the_same_state_dict(dim):
    layer = conv(dim, 4, 6, 1, stride=2, padding=0, bias=False)
    assert isinstance(layer, (SubsampledPointwiseConv1d, SubsampledPointwiseConv2d))
    plain = (nn.Conv1d if dim == 1 else nn.Conv2d)(4, 6, 1, stride=2, bias=False)
    assert layer.state_dict().keys() == plain.state_dict().keys()
    assert type(conv(dim, 4, 6, 1)) is type(plain)  # stride 1: the plain layer
    assert type(conv(dim, 4, 6, 3, stride=2, padding=1)) is type(plain)


@pytest.mark.parametrize("size", [(11,), (12, 12), (7, 10)])
def test_same_numbers_and_gradients_as_the_strided_conv(size):
    dim = len(size)
    torch.manual_seed(0)
    layer = conv(dim, 4, 2, 1, stride=2, padding=0, bias=True)
    reference = (nn.Conv1d if dim == 1 else nn.Conv2d)(4, 2, 1, stride=2, bias=True)
    reference.load_state_dict(layer.state_dict())
    x = torch.randn(8, 4, *size)
    out, expected = layer(x), reference(x)
    assert out.shape == expected.shape
    torch.testing.assert_close(out, expected)
    out.square().sum().backward()
    expected.square().sum().backward()
    torch.testing.assert_close(layer.weight.grad, reference.weight.grad)


def test_channels_last_weight_gradient_with_few_input_channels():
    """The case that corrupts the heap in torch 2.13's CPU kernel (fewer than 8 input
    channels, channels-last, one thread): the layer's gradient is the contiguous reference's,
    the same on every repeat."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        torch.manual_seed(0)
        layer = conv(2, 4, 2, 1, stride=2, padding=0, bias=False)
        reference = nn.Conv2d(4, 2, 1, stride=2, bias=False)
        reference.load_state_dict(layer.state_dict())
        x = torch.randn(16, 4, 12, 12)
        reference(x).sum().backward()
        layer = layer.to(memory_format=torch.channels_last)
        for _ in range(5):
            layer.weight.grad = None
            layer(x.to(memory_format=torch.channels_last)).sum().backward()
            torch.testing.assert_close(layer.weight.grad, reference.weight.grad)
    finally:
        torch.set_num_threads(threads)

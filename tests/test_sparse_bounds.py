"""The sparse benchmarks' measuring tools: the gathered convolution and the FLOP shares."""

import torch
import torch.nn.functional as F
from conftest import load_benchmark


def test_gathered_convolution_equals_the_dense_one_at_the_active_pixels():
    bench = load_benchmark("sparse_conv")
    torch.manual_seed(0)
    x, weight, bias = torch.randn(1, 5, 9, 7), torch.randn(4, 5, 3, 3), torch.randn(4)
    active = torch.tensor([0, 6, 7, 30, 62])  # corners and borders included
    dense = F.conv2d(x, weight, bias, padding=1).flatten(2)[0].T  # (H*W, C_out)
    torch.testing.assert_close(bench.gathered_conv(x, weight, bias, active), dense[active])


def test_conv_shares_split_a_unets_flops_by_resolution():
    bench = load_benchmark("sparse_speed")
    pipe = bench.load_pipeline(None, "cpu")  # sr3_tiny: three levels, strides 1, 2, 4
    lr = torch.rand(1, 3, 16, 16)
    shares, total = bench.conv_share_by_stride(
        lambda: pipe(lr, num_inference_steps=2), pipe.model, 64
    )
    assert total > 0
    assert set(shares) == {0, 1, 2, 4}
    assert abs(sum(shares.values()) - 1.0) < 1e-9
    assert all(0.0 <= v < 1.0 for v in shares.values())
    assert shares[0] < 0.01  # no attention in sr3_tiny: nearly every FLOP is a convolution

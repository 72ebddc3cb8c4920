"""compile=: the judge's extract and compare through torch.compile (a fast CPU backend here; inductor where a
GPU is lent, in test_cuda.py): same losses and gradients as eager, no graph breaks, bounded recompilation,
one warning and eager scores where compilation fails, and the option in RQIMetric and BasicSR."""

from __future__ import annotations

import warnings

import pytest
import torch

from rqi_loss import RQILoss, RQIMetric, create_network
from rqi_loss._compiled import compile_options

from tiny_models import make_tiny_network

FAST = {"backend": "aot_eager"}  # traces forward and backward as inductor would, without generating C++


def _pair(n: int, size: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 3, size, size, generator=g), torch.rand(n, 3, size, size, generator=g)


@pytest.mark.parametrize(
    "model",
    [pytest.param("tiny-maniqa", marks=pytest.mark.slow), "tiny-kadid-synth"],  # tiny-maniqa: 18 s to compile
)
def test_compiled_loss_equals_eager_with_no_graph_break(model):
    network = make_tiny_network() if model == "tiny-maniqa" else create_network("tiny-kadid-synth")
    sr, gt = _pair(2, network.input_size + 16)
    results = []
    for option in (False, FAST):
        torch._dynamo.reset()
        loss = RQILoss(network, seed=0, crop="random", num_crops=2, compile=option)
        x = sr.clone().requires_grad_(True)
        value = loss(x, gt)
        value.backward()
        results.append((value.detach(), x.grad))
    torch.testing.assert_close(results[1][0], results[0][0], rtol=0, atol=1e-6)
    torch.testing.assert_close(results[1][1], results[0][1], rtol=1e-4, atol=1e-7)
    features = network.extract(sr[:, :, : network.input_size, : network.input_size])
    for function, args in (
        (network.extract, (sr[..., : network.input_size, : network.input_size],)),
        (network.compare, (features, features)),
    ):
        explanation = torch._dynamo.explain(function)(*args)
        assert explanation.graph_break_count == 0, explanation.break_reasons


@pytest.mark.slow
def test_changing_batch_sizes_recompile_a_bounded_number_of_times():
    compilations = []

    def counting_backend(graph, inputs):
        compilations.append(len(graph.graph.nodes))
        return graph.forward

    torch._dynamo.reset()
    network = make_tiny_network()
    loss = RQILoss(network, crop="center", compile={"backend": counting_backend})
    for batch in (2, 3, 4, 5, 7, 2):
        loss(*_pair(batch, network.input_size, seed=batch))
    assert 2 <= len(compilations) <= 4, compilations  # extract and compare: static, then one dynamic each


def test_failed_compilation_warns_once_and_runs_eager():
    def broken_backend(graph, inputs):
        raise RuntimeError("no C++ compiler")

    torch._dynamo.reset()
    network = make_tiny_network()
    eager = RQILoss(network, crop="center")
    loss = RQILoss(network, crop="center", compile={"backend": broken_backend})
    sr, gt = _pair(2, network.input_size)
    with pytest.warns(RuntimeWarning, match="torch.compile failed .*runs eager from now on"):
        first = loss(sr, gt)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        second = loss(sr, gt)
    assert first.item() == second.item() == eager(sr, gt).item()
    assert loss.scorer.eager and loss.network is network  # the network itself is untouched


def test_options_are_checked_and_reach_the_metric():
    assert compile_options(False) is None and compile_options(True) == {}
    assert compile_options("max-autotune") == {"mode": "max-autotune"}
    with pytest.raises(ValueError, match="compile must be True, False, one of"):
        RQILoss(make_tiny_network(), compile="fastest")
    torch._dynamo.reset()
    network = make_tiny_network()
    sr, gt = _pair(2, network.input_size + 8)
    compiled = RQIMetric(network, protocol="single-scale", compile=FAST)
    eager = RQIMetric(network, protocol="single-scale")
    torch.testing.assert_close(compiled(sr, gt), eager(sr, gt), rtol=0, atol=1e-6)


def test_basicsr_yaml_key():
    from rqi_loss.basicsr.losses import RQILoss as BasicSRRQILoss

    loss = BasicSRRQILoss(model=make_tiny_network(), compile={"backend": "eager"}, crop="center")
    assert loss.compile_setting == {"backend": "eager"} and loss.scorer is not loss.network


@pytest.mark.slow
def test_failed_backward_compilation_warns_once_and_runs_eager():
    """A backend whose forward compiles and whose backward does not: the trial backward of the first call that
    needs a gradient fails, so that call and the ones after run eager, with the eager gradients."""
    from torch._dynamo.backends.common import aot_autograd

    def broken_backward(graph, inputs):
        raise RuntimeError("backward kernels unavailable")

    torch._dynamo.reset()
    network = make_tiny_network()
    backend = aot_autograd(fw_compiler=lambda graph, inputs: graph.forward, bw_compiler=broken_backward)
    loss = RQILoss(network, crop="center", compile={"backend": backend})
    eager = RQILoss(network, crop="center")
    sr, gt = _pair(2, network.input_size)
    with torch.no_grad():
        assert loss(sr, gt).item() == pytest.approx(eager(sr, gt).item(), abs=1e-6)  # no gradient: compiled
    assert not loss.scorer.eager
    gradients = []
    for module in (loss, eager):
        x = sr.clone().requires_grad_(True)
        if module is loss:
            with pytest.warns(RuntimeWarning, match="backward kernels unavailable.*runs eager from now on"):
                module(x, gt).backward()
        else:
            module(x, gt).backward()
        gradients.append(x.grad)
    assert loss.scorer.eager
    torch.testing.assert_close(gradients[0], gradients[1], rtol=0, atol=0)


def test_copies_of_a_compiled_loss_score_with_their_own_network():
    """copy.deepcopy (and pickling) of a compiled loss compiles the copy's own network: changing the copy's
    weights changes its scores and not the original's."""
    import copy
    import pickle

    torch._dynamo.reset()
    loss = RQILoss(make_tiny_network(), crop="center", compile=FAST)
    sr, gt = _pair(2, loss.network.input_size)
    with torch.no_grad():
        before = loss(sr, gt)
        for duplicate in (copy.deepcopy(loss), pickle.loads(pickle.dumps(loss))):
            assert duplicate.network is not loss.network and duplicate.scorer.network is duplicate.network
            torch.testing.assert_close(duplicate(sr, gt), before, rtol=0, atol=1e-6)
            for parameter in duplicate.network.parameters():
                parameter.mul_(0.5)
            assert (duplicate(sr, gt) - before).abs().item() > 1e-4
            assert loss(sr, gt).item() == before.item()


@pytest.mark.filterwarnings("ignore:for .*copying from a non-meta parameter")  # torch: loading into meta tensors
def test_to_empty_keeps_the_judge_and_rebuilds_one_made_on_the_meta_device():
    sr, gt = _pair(2, 160)
    reference = RQILoss("tiny-kadid-synth", crop="center")
    with torch.no_grad():
        expected = reference(sr, gt)
        moved = RQILoss("tiny-kadid-synth", crop="center").to_empty(device="cpu")
        moved.load_state_dict(moved.state_dict())
        assert moved(sr, gt).item() == expected.item()
        with torch.device("meta"):
            lazy = RQILoss("tiny-kadid-synth", crop="center", compile=FAST)
        assert next(lazy.network.parameters()).is_meta
        lazy.to_empty(device="cpu")
        torch.testing.assert_close(lazy(sr, gt), expected, rtol=0, atol=1e-6)
        assert lazy.scorer.network is lazy.network
        with torch.device("meta"):
            given = RQILoss(make_tiny_network(), crop="center")
        with pytest.raises(ValueError, match="to_empty\\(\\): this module's judge was given as a module"):
            given.to_empty(device="cpu")


def test_module_compile_is_not_shadowed():
    """The compile= keyword is kept as compile_setting: nn.Module.compile() stays callable."""
    network = make_tiny_network()
    loss = RQILoss(network, crop="center", compile=False)
    sr, gt = _pair(2, network.input_size)
    expected = loss(sr, gt)
    torch._dynamo.reset()
    loss.compile(backend="eager")
    torch.testing.assert_close(loss(sr, gt), expected, rtol=0, atol=1e-6)
    assert loss.compile_setting is False

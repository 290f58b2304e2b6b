"""BPartIS network shapes, clustering of synthetic embeddings, mutual information, MC dropout."""

import math

import numpy as np
import pytest
import torch

from imagedataextractor.segment.cluster import cluster_embeddings
from imagedataextractor.segment.embedding import coordinate_map
from imagedataextractor.segment.erfnet import BPartISNet
from imagedataextractor.segment.predict import FLIP_VIEWS, mc_dropout, mc_outputs, remove_border_instances, unflip_embedding
from imagedataextractor.segment.uncertainty import (
    binary_entropy,
    filter_uncertain,
    instance_uncertainty,
    logit_entropy,
    mutual_information,
)


def test_network_output_shape_and_stem_split():
    torch.manual_seed(0)
    net = BPartISNet().eval()
    x = torch.rand(2, 3, 64, 96)
    with torch.no_grad():
        out = net(x)
        assert out.shape == (2, 5, 64, 96)
        assert torch.allclose(net.from_stem(net.stem(x)), out)


def test_init_output_starts_offsets_at_zero_and_sigma_at_one():
    net = BPartISNet().eval()
    net.init_output()
    with torch.no_grad():
        out = net(torch.rand(1, 3, 32, 32))
    assert torch.allclose(out[0, 0:2], torch.zeros(2, 32, 32))
    assert torch.allclose(out[0, 2:4], torch.ones(2, 32, 32))


def test_mc_dropout_is_seeded_restores_eval_and_global_rng():
    torch.manual_seed(0)
    net = BPartISNet().eval()
    x = torch.rand(1, 3, 32, 32)
    before = torch.get_rng_state()
    raw_a, info_a, _ = mc_outputs(net, x, 4, seed=3, batch_size=2)
    raw_b, info_b, _ = mc_outputs(net, x, 4, seed=3, batch_size=2)
    raw_c, _, _ = mc_outputs(net, x, 4, seed=4, batch_size=2)
    assert torch.equal(torch.get_rng_state(), before)
    assert not net.training and all(not m.training for m in net.modules())
    assert torch.allclose(raw_a, raw_b, atol=1e-5) and torch.allclose(info_a, info_b, atol=1e-5)
    assert not torch.allclose(raw_a, raw_c)
    assert (info_a >= 0).all()
    with mc_dropout(net, seed=0):
        assert any(isinstance(m, torch.nn.Dropout2d) and m.training for m in net.modules())
        assert all(not m.training for m in net.modules() if isinstance(m, torch.nn.BatchNorm2d))


def test_fast_mc_outputs_equal_plain_stacked_samples():
    """Folded BN, the stem once, the embedding head on mean features: same numbers as stacking T
    plain forward passes with the same dropout masks."""
    torch.manual_seed(0)
    net = BPartISNet()
    for module in net.modules():  # non-trivial batch-norm statistics, so folding is exercised
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
            module.weight.data.uniform_(0.5, 1.5)
    net.eval()
    x = torch.rand(1, 3, 64, 64)
    n_samples, batch = 6, 3
    with torch.no_grad(), mc_dropout(net, seed=5):
        stem = net.stem(x)
        stacked = torch.cat([net.from_stem(stem.expand(batch)) for _ in range(n_samples // batch)])
    raw, information, foreground = mc_outputs(net.for_inference(), x, n_samples, seed=5, batch_size=batch)
    assert torch.allclose(raw, stacked.mean(0), atol=1e-4)
    assert torch.allclose(information, mutual_information(torch.sigmoid(stacked[:, 4])).clamp(min=0), atol=1e-5)
    # The foreground fraction: the share of samples whose seed logit is positive (pixels within
    # float rounding of 0 may go either way).
    expected = (stacked[:, 4] > 0).float().mean(0)
    assert (foreground - expected).abs().gt(1e-6).float().mean() < 0.01


def test_flipped_views_are_averaged_in_the_original_frame():
    """flips=True: each batch of samples sees one flip of the image; outputs are flipped back (offsets
    change sign along the flipped axis) before averaging; the mutual information is each view's own,
    averaged."""
    torch.manual_seed(0)
    net = BPartISNet().eval()
    x = torch.rand(1, 3, 64, 64)
    n_samples, batch = 12, 3  # one batch per view
    samples = []
    with torch.no_grad(), mc_dropout(net, seed=5):
        for dims in FLIP_VIEWS:
            raw = net.from_stem(net.stem(x.flip(dims) if dims else x).expand(batch))
            samples.append(torch.stack([torch.cat([unflip_embedding(r[:4], dims), r[4:].flip(dims) if dims else r[4:]]) for r in raw]))
    stacked = torch.cat(samples)
    raw, information, _ = mc_outputs(net.for_inference(), x, n_samples, seed=5, batch_size=batch, flips=True)
    assert torch.allclose(raw, stacked.mean(0), atol=1e-4)
    per_view = torch.stack([mutual_information(torch.sigmoid(view[:, 4])) for view in samples])
    assert torch.allclose(information, per_view.mean(0).clamp(min=0), atol=1e-5)
    assert not torch.allclose(raw, mc_outputs(net.for_inference(), x, n_samples, seed=5, batch_size=batch)[0], atol=1e-3)


@pytest.mark.parametrize("dims", FLIP_VIEWS[1:])
def test_unflipped_offsets_point_at_the_mirrored_centre(dims):
    """A network that is exact on the flipped image points every pixel at the flipped centre; mapped
    back, its offsets point at the original centre (coordinates span the canvas symmetrically)."""
    size = 512
    coords = coordinate_map(size, size)
    centre = torch.tensor([0.3, 0.7]).view(2, 1, 1)
    mirrored = centre.clone()
    if -1 in dims:
        mirrored[0] = 1 - mirrored[0]
    if -2 in dims:
        mirrored[1] = 1 - mirrored[1]
    offsets_in_flipped_frame = torch.atanh((mirrored - coords).clamp(-0.999, 0.999))
    raw = torch.cat([offsets_in_flipped_frame, torch.zeros(2, size, size)])
    back = unflip_embedding(raw, dims)
    assert torch.allclose(torch.tanh(back[:2]) + coords, centre.expand(2, size, size), atol=1e-4)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_compiled_sampling_gives_the_eager_outputs(dtype):
    """``--compile`` compiles the per-sample part with the same dropout masks: the same MC outputs
    up to rounding, in both precisions; discriminative passes too."""
    from imagedataextractor.segment.predict import compile_sampling, discriminative_output

    torch.manual_seed(0)
    net = BPartISNet().eval()
    x = torch.rand(1, 3, 64, 64).contiguous(memory_format=torch.channels_last)
    eager_net, compiled_net = net.for_inference(dtype), compile_sampling(net.for_inference(dtype))
    eager = mc_outputs(eager_net, x, 6, seed=5, batch_size=3)
    compiled = mc_outputs(compiled_net, x, 6, seed=5, batch_size=3)
    tolerance = 1e-4 if dtype == torch.float32 else 3e-2
    for ours, reference in zip(compiled[:2], eager[:2], strict=True):
        assert torch.allclose(ours, reference, atol=tolerance)
    # The foreground fraction counts logits above 0: those within rounding of 0 may flip, and an
    # untrained network's logits hug 0 (bf16 rounds to 3 significant digits).
    flipped = (compiled.foreground - eager.foreground).abs().gt(1e-6).float().mean()
    assert flipped < (0.01 if dtype == torch.float32 else 0.1)
    other_seed = mc_outputs(compiled_net, x, 6, seed=6, batch_size=3)[0]
    assert not torch.equal(other_seed, compiled[0])  # the masks follow the seed
    assert torch.allclose(discriminative_output(compiled_net, x), discriminative_output(eager_net, x), atol=tolerance)


def test_compile_failure_falls_back_to_the_eager_network(monkeypatch, caplog):
    from imagedataextractor.segment import predict

    model = predict.get_bpartis()
    image = np.full((80, 80, 3), 40, np.uint8)
    config = predict.BPartISConfig(n_samples=2, compile=True, precision="fp32")

    def broken(network):
        def fail(*args, **kwargs):
            raise RuntimeError("InductorError: no C++ compiler found")

        network.encode = fail
        return network

    monkeypatch.setattr(predict, "compile_sampling", broken)
    model._inference.pop(("fp32", True), None)
    try:
        with caplog.at_level("WARNING"):
            result = model.segment(image, config)
        eager = model.segment(image, predict.BPartISConfig(n_samples=2, precision="fp32"))
    finally:
        model._inference.pop(("fp32", True), None)
    assert "torch.compile failed (InductorError: no C++ compiler found)" in caplog.text
    assert np.array_equal(result.labels, eager.labels)


def _synthetic_embeddings(centres, radius, size=64):
    """Two discs whose pixels embed exactly onto their centre: perfect embeddings."""
    coords = coordinate_map(size, size)
    embedding = coords.clone()
    seed = torch.zeros(size, size)
    truth = torch.zeros(size, size, dtype=torch.int64)
    yy, xx = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    for k, (cy, cx) in enumerate(centres, start=1):
        inside = (yy - cy) ** 2 + (xx - cx) ** 2 <= radius**2
        embedding[:, inside] = coords[:, cy, cx].unsqueeze(1)
        seed[inside] = 0.9
        truth[inside] = k
    sigma = torch.full((2, size, size), 0.8)  # exp(8) bandwidth: phi > 0.5 within ~0.018 units
    return embedding, sigma, seed, truth


def test_clustering_recovers_instances_from_perfect_embeddings():
    embedding, sigma, seed, truth = _synthetic_embeddings([(16, 16), (16, 46), (46, 30)], radius=8)
    clusters = cluster_embeddings(embedding, sigma, seed, min_size=20)
    labels = clusters.labels
    assert int(labels.max()) == 3 and len(clusters.scores) == 3
    for k in (1, 2, 3):
        ids = torch.unique(labels[truth == k])
        assert len(ids) == 1 and ids.item() != 0
        assert torch.equal(labels == ids.item(), truth == k)
    assert torch.allclose(clusters.scores, torch.full((3,), 0.9))


def _greedy_reference(embedding, sigma, seed, min_size):
    """The clustering as the paper describes it, over every foreground pixel at each step."""
    foreground = (seed > 0.5).reshape(-1)
    points, bandwidths = embedding.reshape(2, -1)[:, foreground], torch.exp(10 * sigma.reshape(2, -1)[:, foreground])
    candidates, unclustered = seed.reshape(-1)[foreground].clone(), torch.ones(int(foreground.sum()), dtype=torch.bool)
    labels, count = torch.zeros(len(candidates), dtype=torch.int64), 0
    while int(unclustered.sum()) > min_size and float(candidates.max()) >= 0.5:
        best = int(torch.argmax(candidates))  # first of the tied maxima in image order
        proposal = torch.exp(-((points - points[:, best : best + 1]).pow(2) * bandwidths[:, best : best + 1]).sum(0)) > 0.5
        proposal[best] = True
        if int(proposal.sum()) > min_size and int((proposal & unclustered).sum()) > 0.5 * int(proposal.sum()):
            count += 1
            labels[proposal] = count
        unclustered &= ~proposal
        candidates[proposal] = -1.0
    full = torch.zeros(seed.numel(), dtype=torch.int64)
    full[foreground] = labels
    return full.view(seed.shape)


def test_windowed_clustering_equals_the_full_greedy_pass():
    """Noisy, overlapping instances with saturated (tied) seeds and mixed bandwidths."""
    generator = torch.Generator().manual_seed(3)
    embedding, sigma, seed, _ = _synthetic_embeddings([(12, 12), (14, 20), (40, 40), (50, 20)], radius=9)
    embedding = embedding + 0.01 * torch.randn(embedding.shape, generator=generator)
    sigma = sigma + 0.3 * torch.rand(sigma.shape, generator=generator)
    seed = torch.where(seed > 0, torch.where(torch.rand(seed.shape, generator=generator) < 0.5, 1.0, 0.8), 0.6 * torch.rand(seed.shape, generator=generator))
    clusters = cluster_embeddings(embedding, sigma, seed, min_size=10)
    assert int(clusters.labels.max()) >= 3
    assert torch.equal(clusters.labels, _greedy_reference(embedding, sigma, seed, min_size=10))


def test_clustering_drops_small_clusters_and_low_seeds():
    embedding, sigma, seed, truth = _synthetic_embeddings([(16, 16), (46, 46)], radius=3)
    assert int(cluster_embeddings(embedding, sigma, seed, min_size=50).labels.max()) == 0
    assert int(cluster_embeddings(embedding, sigma, seed * 0.5, min_size=5).labels.max()) == 0


def test_mutual_information_on_known_samples():
    agree = torch.full((30, 4), 0.8)
    assert torch.allclose(mutual_information(agree), torch.zeros(4), atol=1e-6)
    split = torch.cat([torch.ones(15, 1), torch.zeros(15, 1)])  # total disagreement
    assert mutual_information(split).item() == pytest.approx(math.log(2), abs=1e-4)
    half = torch.tensor([[0.9], [0.1]])
    entropy = lambda p: -(p * math.log(p) + (1 - p) * math.log(1 - p))  # noqa: E731
    assert mutual_information(half).item() == pytest.approx(math.log(2) - entropy(0.9), abs=1e-5)


def test_logit_entropy_equals_the_entropy_of_the_probabilities():
    logits = torch.linspace(-30.0, 30.0, 2001)
    assert torch.allclose(logit_entropy(logits), binary_entropy(torch.sigmoid(logits)), atol=2e-6)
    assert logit_entropy(torch.zeros(1)).item() == pytest.approx(math.log(2.0))


def test_uncertainty_filter_keeps_confident_instances_and_relabels():
    labels = torch.tensor([[1, 1, 0, 2, 2], [3, 3, 0, 2, 2]])
    uncertainty = torch.tensor([[0.0, 0.01, 0.5, 0.3, 0.3], [0.001, 0.001, 0.5, 0.3, 0.3]])
    assert torch.allclose(instance_uncertainty(labels, uncertainty), torch.tensor([0.005, 0.3, 0.001]))
    filtered, kept = filter_uncertain(labels, uncertainty, tu=0.0125)
    assert kept.tolist() == [True, False, True]
    assert filtered.tolist() == [[1, 1, 0, 0, 0], [2, 2, 0, 0, 0]]


def test_remove_border_instances():
    labels = np.zeros((10, 10), np.uint16)
    labels[0:3, 0:3] = 1
    labels[4:6, 4:6] = 2
    labels[7:10, 5:7] = 3
    labels[2:4, 7:9] = 4
    out = remove_border_instances(labels)
    assert sorted(np.unique(out).tolist()) == [0, 1, 2]
    assert (out[4:6, 4:6] == 1).all() and (out[2:4, 7:9] == 2).all()


def test_flips_follow_the_config_else_the_model_and_are_recorded():
    from imagedataextractor.segment.predict import BPartISConfig, get_bpartis

    model = get_bpartis()
    default = bool(model.bundle.config.get("flips", False))
    assert model.flips(BPartISConfig()) is default
    assert model.flips(BPartISConfig(flips=not default)) is (not default)
    image = np.full((96, 96, 3), 40, np.uint8)
    image[30:60, 30:60] = 220
    segmentation = model.segment(image, BPartISConfig(n_samples=4, flips=True))
    assert segmentation.labels.shape == (96, 96)
    assert segmentation.details["flips"] is True
    assert model.segment(image, BPartISConfig(mode="discriminative", flips=True)).details["flips"] is False


def test_the_bundles_systematic_error_is_recorded_for_its_filtered_mode_only():
    """The shipped bundle's ``systematic_rel_sd`` was estimated with its uncertainty filter: the
    filtered Bayesian mode records it (the measurement's intervals use it), the others 0."""
    from imagedataextractor.segment.predict import BPartISConfig, get_bpartis

    model = get_bpartis()
    systematic = model.bundle.config["systematic_rel_sd"]
    image = np.full((96, 96, 3), 40, np.uint8)
    image[30:60, 30:60] = 220
    assert systematic > 0 and model.segment(image, BPartISConfig(n_samples=3)).details["systematic_rel_sd"] == systematic
    assert model.segment(image, BPartISConfig(n_samples=3, filter_uncertain=False)).details["systematic_rel_sd"] == 0.0
    assert model.segment(image, BPartISConfig(mode="discriminative")).details["systematic_rel_sd"] == 0.0


@pytest.mark.parametrize("flips", [False, True])
def test_samples_of_several_images_batched_together_equal_one_image_at_a_time(flips):
    from imagedataextractor.segment.predict import mc_outputs_many

    torch.manual_seed(0)
    net = BPartISNet().for_inference()
    xs = [torch.rand(1, 3, 32, 32).contiguous(memory_format=torch.channels_last) for _ in range(3)]
    batched = mc_outputs_many(net, xs, 7, seeds=[4, 5, 6], batch_size=3, flips=flips)
    for x, seed, (raw, information, _) in zip(xs, [4, 5, 6], batched):
        alone_raw, alone_information, _ = mc_outputs(net, x, 7, seed=seed, batch_size=3, flips=flips)
        torch.testing.assert_close(raw, alone_raw, rtol=0, atol=1e-5)
        torch.testing.assert_close(information, alone_information, rtol=0, atol=1e-5)
        assert (raw - mc_outputs(net, x, 7, seed=seed + 1, batch_size=3, flips=flips)[0]).abs().max() > 1e-3  # the masks matter


def test_segment_many_in_groups_equals_segment_one_by_one():
    from imagedataextractor.segment.predict import BPartISConfig, get_bpartis, segment_bpartis_many

    model = get_bpartis()
    rng = np.random.default_rng(1)
    images = [np.full((96, 80, 3), 40, np.uint8) for _ in range(3)]
    for image in images:
        for y, x in rng.integers(10, 60, size=(4, 2)):
            image[y:y + 18, x:x + 18] = 220
    config = BPartISConfig(n_samples=6, precision="fp32", keep_border=True)
    grouped = list(segment_bpartis_many(images, config=config, images_per_batch=2))
    assert len(grouped) == 3
    for image, result in zip(images, grouped):
        alone = model.segment(image, config)
        assert np.array_equal(result.labels, alone.labels)
        np.testing.assert_allclose(result.uncertainty, alone.uncertainty, rtol=0, atol=1e-5)
        assert result.details == {**alone.details, "seconds": result.details["seconds"]}


def test_compiled_code_is_cached_in_the_user_cache_directory_unless_told_otherwise(monkeypatch, tmp_path):
    import os

    from imagedataextractor.segment.predict import compile_cache_dir, compile_sampling

    monkeypatch.delenv("TORCHINDUCTOR_CACHE_DIR", raising=False)
    compile_sampling(BPartISNet().for_inference())  # torch.compile is lazy: nothing compiles here
    assert os.environ["TORCHINDUCTOR_CACHE_DIR"] == str(compile_cache_dir())
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", str(tmp_path))
    compile_sampling(BPartISNet().for_inference())
    assert os.environ["TORCHINDUCTOR_CACHE_DIR"] == str(tmp_path)

"""Explanations checked against ground truth, completeness and the randomisation test."""
import numpy as np
import pytest

import graphscope
from graphscope.errors import UsageError
from tests.conftest import run_cli
from tests.zoo import onnx_models
from tests.zoo.onnx_models import REGION

POSITIVE = np.abs(np.random.default_rng(5).standard_normal((1, 3, 16, 16))).astype(np.float32)


@pytest.fixture(scope="module")
def region():
    return graphscope.load(onnx_models.region_net())


def mass_inside(m: np.ndarray) -> float:
    m = np.abs(m)
    return float(m[REGION].sum() / m.sum())


@pytest.mark.parametrize("method", ["saliency", "integrated-gradients", "gradcam", "gradcam++",
                                    "guided-backprop", "smoothgrad", "cam"])
def test_map_mass_is_inside_the_region_the_score_depends_on(region, method):
    r = graphscope.explain(region, POSITIVE, method=method, target=1)
    assert r.map.shape == (16, 16)
    assert mass_inside(r.map) > 0.8, method
    if method in ("saliency", "integrated-gradients"):
        assert r.attributions.shape == POSITIVE.shape


def test_integrated_gradients_completeness():
    g = graphscope.load(onnx_models.small_resnet(batch=1, size=32))
    x = np.random.default_rng(2).standard_normal((1, 3, 32, 32)).astype(np.float32) * 3
    r = graphscope.explain(g, x, method="integrated-gradients", steps=128)
    delta, total = r.extra["delta"], float(r.attributions.sum())
    assert abs(delta) > 1e-6
    assert total == pytest.approx(delta, rel=0.01)


def spearman(a, b) -> float:
    ra = np.argsort(np.argsort(a.ravel()))
    rb = np.argsort(np.argsort(b.ravel()))
    return float(np.corrcoef(ra, rb)[0, 1])


@pytest.mark.parametrize("method", ["saliency", "gradcam"])
def test_model_randomisation_changes_the_map(method):
    x = np.random.default_rng(3).standard_normal((1, 3, 32, 32)).astype(np.float32)
    g = graphscope.load(onnx_models.small_resnet(batch=1, size=32))
    before = graphscope.explain(g, x, method=method, target=0).map
    again = graphscope.explain(g, x, method=method, target=0).map
    assert spearman(before, again) > 0.99  # deterministic
    rng = np.random.default_rng(11)
    for v in g.weights.values():
        if v.data.dtype == "float32" and v.data.size > 1 and not v.meta.get("constant"):
            v.data._array = rng.standard_normal(v.data.shape).astype(np.float32) * 0.2
    after = graphscope.explain(g, x, method=method, target=0).map
    assert spearman(before, after) < 0.5


def test_activation_maximization_raises_the_class_score(region):
    r = graphscope.explain(region, POSITIVE, method="maximize", target=0, iterations=60)
    # pixels are clipped to the input's range, so twice the mid-grey start is the ceiling
    assert r.extra["activation"] > 1.8 * r.extra["noise_activation"] > 0
    img = r.extra["image"]
    assert img.shape == POSITIVE.shape
    assert img[(0, slice(None)) + REGION].mean() > 0.9 * POSITIVE.max()  # the region saturates


def test_bad_requests(region):
    with pytest.raises(UsageError, match="out of range"):
        graphscope.explain(region, POSITIVE, method="saliency", target=3)
    with pytest.raises(UsageError, match="no layer named 'nope'"):
        graphscope.explain(region, POSITIVE, method="gradcam", layer="nope")
    with pytest.raises(UsageError, match="not spatial"):
        graphscope.explain(region, POSITIVE, method="gradcam", layer="flatten")
    with pytest.raises(UsageError, match="unknown method"):
        graphscope.explain(region, POSITIVE, method="astrology")


def test_no_differentiable_path_is_an_error():
    b = onnx_models.Builder("nograd")
    x = b.input("x", [1, 3, 4, 4])
    s = b.op("ReduceMax", [x], name="rmax", axes=[2, 3], keepdims=0)
    b.op("ArgMax", [s], name="argmax", axis=1, outputs=["cls"])
    b.outputs.append(__import__("onnx").helper.make_tensor_value_info("cls", 7, [None, None]))
    with pytest.raises(UsageError, match="no differentiable path"):
        graphscope.explain(graphscope.load(b.model()), "random", method="saliency", target=0)


def test_cli_explain_writes_overlay_npy_and_report(tmp_path):
    import onnx
    model = tmp_path / "region.onnx"
    onnx.save(onnx_models.region_net(), str(model))
    np.save(tmp_path / "x.npy", POSITIVE)
    proc = run_cli("explain", model, "--input", tmp_path / "x.npy", "--method",
                   "saliency,gradcam", "--target", "1", "-o", tmp_path / "out.png",
                   "--html", tmp_path / "r.html")
    assert proc.returncode == 0, proc.stderr
    sal = np.load(tmp_path / "out.saliency.npy")
    assert sal.shape == (16, 16) and mass_inside(sal) > 0.8
    assert (tmp_path / "out.gradcam.png").read_bytes().startswith(b"\x89PNG")
    page = (tmp_path / "r.html").read_text()
    assert page.count("<img") == 3  # input + one panel per method
    bad = run_cli("explain", model, "--target", "7", "-o", tmp_path / "bad.png")
    assert bad.returncode == 2 and "out of range" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1 and not (tmp_path / "bad.png").exists()


def test_caffe_model_explained_through_the_converter_equals_pytorch(tmp_path):
    """LeNet as a prototxt + caffemodel, and the same network written in PyTorch with the same
    weights: the saliency and Grad-CAM maps agree."""
    torch = pytest.importorskip("torch")
    from graphscope.adapters.caffe.caffemodel import write_caffemodel
    from tests.zoo import caffe_models
    rng = np.random.default_rng(0)
    shapes = {"conv1": [(20, 1, 5, 5), (20,)], "conv2": [(50, 20, 5, 5), (50,)],
              "ip1": [(500, 800), (500,)], "ip2": [(10, 500), (10,)]}
    blobs = {k: [(rng.standard_normal(s) / np.sqrt(np.prod(s[1:]) if len(s) > 1 else 10)
                  ).astype(np.float32) for s in v] for k, v in shapes.items()}
    proto = tmp_path / "lenet.prototxt"
    proto.write_text(caffe_models.lenet())
    kinds = {"conv1": "Convolution", "conv2": "Convolution", "ip1": "InnerProduct",
             "ip2": "InnerProduct"}
    write_caffemodel(tmp_path / "lenet.caffemodel", [(k, kinds[k], v) for k, v in blobs.items()])

    nn = torch.nn
    net = nn.Sequential(nn.Conv2d(1, 20, 5), nn.MaxPool2d(2, 2), nn.Conv2d(20, 50, 5),
                        nn.MaxPool2d(2, 2), nn.Flatten(), nn.Linear(800, 500), nn.ReLU(),
                        nn.Linear(500, 10), nn.Softmax(dim=1)).eval()
    for layer, key in ((net[0], "conv1"), (net[2], "conv2"), (net[5], "ip1"), (net[7], "ip2")):
        layer.weight.data = torch.from_numpy(blobs[key][0])
        layer.bias.data = torch.from_numpy(blobs[key][1])
    x = rng.standard_normal((1, 1, 28, 28)).astype(np.float32)
    for method in ("saliency", "gradcam"):
        via_caffe = graphscope.explain(proto, x, method=method, target=3,
                                       weights=tmp_path / "lenet.caffemodel")
        via_torch = graphscope.explain(net, x, method=method, target=3,
                                       example_inputs=(torch.from_numpy(x),))
        assert via_caffe.map.shape == via_torch.map.shape == (28, 28)
        np.testing.assert_allclose(via_caffe.map, via_torch.map, rtol=1e-3,
                                   atol=1e-6 * float(np.abs(via_torch.map).max()))


def test_maximize_grid_tiles_one_image_per_channel(region):
    r = graphscope.explain(region, POSITIVE, method="maximize", layer="relu", grid=4,
                           iterations=20)
    assert r.extra["channels"] == 4
    assert r.extra["grid"].shape == (2 * 16 + 1, 2 * 16 + 1, 3)  # 2x2 tiles, 1px gaps
    assert all(g > 0 for g in r.extra["gains"])  # every channel's activation went up
    from graphscope.explain.render import overlay_png
    assert overlay_png(r).startswith(b"\x89PNG")

"""Our shapes against a real Caffe implementation: OpenCV's cv2.dnn reads the prototxt with a
caffemodel we write ourselves (random weights) and reports every layer's output shape."""

import pytest

import graphscope
from tests.zoo.caffe_models import random_caffemodel
from tests.zoo import caffe_models

cv2 = pytest.importorskip("cv2")

# Two OpenCV quirks are kept out of this file (ours follow Caffe's source there; see
# docs/caffe.md): a lone pad_h is ignored by OpenCV (Caffe reads the missing pad_w as 0, so
# p5 spells it out), and a dilated Deconvolution ignores its dilation in OpenCV.
EDGE_CASES = '''name: "edges"
input: "data" input_shape { dim: 1 dim: 4 dim: 17 dim: 19 }
layer { name: "c1" type: "Convolution" bottom: "data" top: "c1"
  convolution_param { num_output: 8 kernel_size: 3 pad: 2 dilation: 2 group: 2 } }
layer { name: "c2" type: "Convolution" bottom: "c1" top: "c2"
  convolution_param { num_output: 8 kernel_h: 3 kernel_w: 5 stride_h: 2 stride_w: 3 pad_h: 1 pad_w: 2 group: 4 } }
layer { name: "p1" type: "Pooling" bottom: "c1" top: "p1" pooling_param { pool: MAX kernel_size: 3 stride: 2 pad: 1 } }
layer { name: "p2" type: "Pooling" bottom: "c1" top: "p2" pooling_param { pool: AVE kernel_size: 2 stride: 3 } }
layer { name: "p3" type: "Pooling" bottom: "data" top: "p3" pooling_param { pool: MAX kernel_size: 1 stride: 3 } }
layer { name: "p4" type: "Pooling" bottom: "data" top: "p4" pooling_param { pool: MAX kernel_size: 2 stride: 2 pad: 1 } }
layer { name: "p5" type: "Pooling" bottom: "data" top: "p5" pooling_param { pool: AVE kernel_h: 3 kernel_w: 2 stride_h: 2 stride_w: 3 pad_h: 1 pad_w: 0 } }
layer { name: "d1" type: "Deconvolution" bottom: "p1" top: "d1" convolution_param { num_output: 6 kernel_size: 4 stride: 2 pad: 1 } }
layer { name: "d2" type: "Deconvolution" bottom: "c1" top: "d2" convolution_param { num_output: 4 kernel_size: 3 stride: 3 group: 2 } }
layer { name: "cr" type: "Crop" bottom: "d1" bottom: "c1" top: "cr" crop_param { axis: 2 offset: 1 } }
layer { name: "cr2" type: "Crop" bottom: "d2" bottom: "p1" top: "cr2" crop_param { axis: 1 offset: 0 offset: 2 offset: 3 } }
layer { name: "r" type: "Reshape" bottom: "cr" top: "r" reshape_param { shape { dim: 0 dim: -1 dim: 19 } } }
layer { name: "r2" type: "Reshape" bottom: "c2" top: "r2" reshape_param { shape { dim: -1 } axis: 1 } }
layer { name: "f" type: "Flatten" bottom: "p2" top: "f" }
layer { name: "ip" type: "InnerProduct" bottom: "p2" top: "ip" inner_product_param { num_output: 5 } }
layer { name: "cat" type: "Concat" bottom: "cr" bottom: "c1" top: "cat" }
layer { name: "sl" type: "Slice" bottom: "cat" top: "s1" top: "s2" slice_param { slice_point: 6 } }
layer { name: "e" type: "Eltwise" bottom: "s2" bottom: "c1" top: "e" eltwise_param { operation: MAX } }
'''

NETS = {"edges": lambda: EDGE_CASES, "googlenet": caffe_models.googlenet,
        "squeezenet_v1.0": caffe_models.squeezenet_v10, "resnet50": caffe_models.resnet50,
        "lenet": caffe_models.lenet}


def our_shapes(g) -> dict:
    """Caffe layer name -> the shapes of its tops, as we inferred them."""
    out = {}
    for n in g.nodes:
        if n.name == n.meta.get("caffe_layer") or n.name == n.meta.get("caffe_layer", "") + "#2":
            out[n.meta["caffe_layer"]] = [v.type.shape for v in n.outputs]
        if "caffe_scale_layer" in n.attrs:
            out[n.attrs["caffe_scale_layer"]] = [v.type.shape for v in n.outputs]
    return out


@pytest.mark.parametrize("name", sorted(NETS))
def test_every_blob_shape_matches_opencv(tmp_path, name):
    proto = tmp_path / f"{name}.prototxt"
    proto.write_text(NETS[name]())
    g = graphscope.load(proto)
    model = tmp_path / f"{name}.caffemodel"
    random_caffemodel(g, model)
    net = cv2.dnn.readNetFromCaffe(str(proto), str(model))
    shape = list(g.inputs[0].type.shape)
    ids, _, outs = net.getLayersShapes([shape])
    names = net.getLayerNames()
    ours = our_shapes(g)
    compared = 0
    for i, out in zip(ids, outs):
        if i == 0:  # OpenCV's own input layer
            continue
        layer = names[i - 1]
        if layer not in ours:
            continue
        theirs = tuple(int(d) for d in out[0])
        mine = ours[layer][0]
        assert mine == theirs, f"{layer}: ours {mine}, OpenCV {theirs}"
        compared += 1
    assert compared >= len([n for n in g.nodes if n.op not in ("Flatten",)]) * 0.9

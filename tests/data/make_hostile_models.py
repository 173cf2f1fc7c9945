"""Makes the tiny ONNX models with broken outputs that tests/hostile.rs feeds to nasview.

Run from the project root with the set-up venv: `.venv/bin/python tests/data/make_hostile_models.py`.
Each graph takes the usual image input and returns constant detections, some valid and some broken
(inverted or empty boxes, scores above 1, NaN, coordinates near f32's maximum, classes out of range),
so the test knows exactly which boxes must come out.
"""
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OUT = "tests/data"
INPUT = helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, 640, 640])


def constant_model(outputs, path):
    nodes, infos = [], []
    for name, value in outputs:
        nodes.append(helper.make_node("Constant", [], [name], value=numpy_helper.from_array(value, name)))
        infos.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, list(value.shape)))
    graph = helper.make_graph(nodes, "hostile", [INPUT], infos)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="nasview tests")
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, path)
    print(path, [v.shape for _, v in outputs])


def flat():
    # [batch, x1, y1, x2, y2, score, class] in model-input pixels.
    rows = np.array([
        [0, 100, 100, 200, 200, 0.9, 0],  # the one valid box
        [0, 300, 100, 200, 200, 0.9, 1],  # inverted (x1 > x2)
        [0, 50, 50, 50, 80, 0.8, 2],  # zero width
        [0, 10, 10, 40, 40, 1.5, 3],  # score above 1
        [0, np.nan, 10, 40, 40, 0.9, 4],  # NaN
        [0, 10, 10, 40, 40, 0.9, 99999],  # class out of range
        [1, 10, 10, 40, 40, 0.9, 5],  # image 1 of a batch: not ours, not counted
        [0, 10, 10, 40, 40, 0.1, 6],  # below the threshold: not counted
    ], dtype=np.float32)
    constant_model([("flat", rows)], f"{OUT}/hostile_flat.onnx")


def raw():
    # boxes [1, N, 4] xyxy and scores [1, N, 5]; names are numbers, as in super-gradients' raw exports.
    n, c = 305, 5
    boxes = np.zeros((1, n, 4), dtype=np.float32)
    scores = np.zeros((1, n, c), dtype=np.float32)
    boxes[0, :300] = [400, 100, 300, 200]  # 300 identical inverted boxes
    scores[0, :300, 0] = 0.9
    boxes[0, 300] = boxes[0, 301] = [0, 0, 1e38, 1e38]  # duplicates whose areas overflow f32
    scores[0, 300, 1], scores[0, 301, 1] = 0.9, 0.85
    boxes[0, 302] = [0, 0, 3.4e38, 3.4e38]  # finite here, beyond f32 once mapped to a larger photo
    scores[0, 302, 2] = 0.9
    boxes[0, 303] = [100, 100, 200, 300]  # valid
    scores[0, 303, 3] = 0.8
    boxes[0, 304] = [10, 10, 50, 50]
    scores[0, 304, 4] = 1.5  # score above 1
    constant_model([("1133", boxes), ("1125", scores)], f"{OUT}/hostile_raw.onnx")


if __name__ == "__main__":
    flat()
    raw()

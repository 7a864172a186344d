"""export: the ONNX files the drawing page runs, as the browser and onnxruntime read them."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from mnist_lib.batches import normalize, to_32x32
from mnist_lib.export import STACK_TRACE, ForBrowser, export_onnx
from mnist_lib.models import ModelConfig
from mnist_lib.paths import repo_root


@pytest.mark.parametrize("name, resize", [("lenet5", "resize"), ("mlp", "pad")])
def test_exported_file_gives_the_modules_answers_and_names_no_local_file(tmp_path, name, resize):
    torch.manual_seed(0)
    model = ModelConfig(name).build().eval()
    path = export_onnx(model, resize, tmp_path / f"{name}.onnx")

    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary file left behind
    proto = onnx.load(path)
    assert not [p for node in proto.graph.node for p in node.metadata_props if p.key == STACK_TRACE]
    assert any(node.metadata_props for node in proto.graph.node)  # the other notes are kept
    raw = path.read_bytes()
    assert str(repo_root()).encode() not in raw and b"ipykernel" not in raw

    fields = torch.rand(5, 28, 28)  # any batch size, not the export example's 2
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    got = session.run(None, {"image": fields.numpy()})
    with torch.no_grad():
        want = ForBrowser(model, resize)(fields)
    want = want if isinstance(want, tuple) else (want,)
    assert len(got) == len(want)
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b.numpy(), atol=1e-5)


@pytest.mark.parametrize("resize", ["resize", "pad"])
def test_to_input_is_to_32x32_then_normalize_on_every_pixel(resize):
    """The graph's 28->32 step must give the training input exactly, not nearly: a half
    rounded to even (torch.round) instead of upwards would change some pixels by one."""
    torch.manual_seed(0)
    images = torch.randint(0, 256, (64, 28, 28), dtype=torch.uint8)
    images[:, 10:14, 10:14] = 255  # sharp edges, where the resize's halves are
    want = normalize(to_32x32(images, resize))
    got = ForBrowser(torch.nn.Identity(), resize).to_input(images.float() / 255)
    assert got.shape == want.shape == (64, 1, 32, 32)
    assert torch.equal(got, want)

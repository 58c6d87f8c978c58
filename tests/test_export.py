"Export to ONNX and TorchScript (fp32 and int8): parity with PyTorch, sidecar, dynamic batch, OnnxModel."
import json

import numpy as np
import pytest
import torch

pytest.importorskip('onnxruntime')

from conftest import train_tiny  # noqa: E402
from deepfake.export import (OnnxModel, TorchScriptModel, check_export, dataset_clips, export_model, export_path,
                             load_exported, onnx_int8, read_sidecar, sidecar_path)


@pytest.fixture(scope='module')
def checkpoints(demo_faces, tiny_checkpoint, tmp_path_factory):
    "1-epoch checkpoints of an RNN model (resnet18 + LSTM) and a frame model (mobilenet_v2, random init)."
    return {'resnet18': tiny_checkpoint,
            'mobilenet_v2': train_tiny(demo_faces, tmp_path_factory.mktemp('export_ck'), 'mobilenet_v2')}


@pytest.fixture(scope='module')
def exports(checkpoints, tmp_path_factory):
    out = tmp_path_factory.mktemp('exports')
    return {(name, fmt, q): export_model(ck, out / f'{name}{".int8" if q else ""}.{fmt}', format=fmt, quantize=q)
            for name, ck in checkpoints.items() for fmt in ('onnx', 'torchscript') for q in (None, 'int8')}


@pytest.mark.parametrize('name', ['resnet18', 'mobilenet_v2'])
@pytest.mark.parametrize('fmt', ['onnx', 'torchscript'])
def test_fp32_parity(checkpoints, exports, demo_faces, name, fmt):
    path = exports[name, fmt, None]
    for b in (1, 3):  # exported with batch 1: the batch axis is dynamic
        r = check_export(checkpoints[name], path, torch.randn(b, 4, 3, 32, 32, generator=torch.Generator().manual_seed(b)))
        assert r['max_prob_diff'] <= 1e-4 and r['max_frame_prob_diff'] <= 1e-4, r
    clips, labels = dataset_clips(demo_faces, read_sidecar(path))
    r = check_export(checkpoints[name], path, clips, labels)
    assert r['max_prob_diff'] <= 1e-4 and r['max_frame_prob_diff'] <= 1e-4, r


@pytest.mark.parametrize('fmt', ['onnx', 'torchscript'])
def test_int8_close(checkpoints, exports, demo_faces, fmt):
    for name in checkpoints:
        path = exports[name, fmt, 'int8']
        assert read_sidecar(path)['quantize'] == 'int8'
        clips, labels = dataset_clips(demo_faces, read_sidecar(path))
        r = check_export(checkpoints[name], path, clips, labels)
        print(name, fmt, 'int8', r)
        assert r['max_prob_diff'] <= 0.01, r
        # 1-epoch scores lie within ~0.01 of 0.5: only pairs within 2 x max_prob_diff can swap
        assert abs(r['auc_change']) <= r['max_auc_change'] + 1e-9, r


def test_max_auc_change_counts_the_pairs_that_can_swap(checkpoints, exports, demo_faces):
    "An fp32 export moves nothing: no pair can swap; the bound is the share of real/fake pairs within 2 x max diff."
    path = exports['resnet18', 'onnx', None]
    clips, labels = dataset_clips(demo_faces, read_sidecar(path))
    r = check_export(checkpoints['resnet18'], path, clips, labels)
    assert r['auc_change'] == 0 and r['max_auc_change'] <= 1 / 36


def test_int8_onnx_smaller(exports):
    for name in ('resnet18', 'mobilenet_v2'):
        fp32, int8 = exports[name, 'onnx', None], exports[name, 'onnx', 'int8']
        assert int8.stat().st_size < 0.35 * fp32.stat().st_size


def test_int8_ops_subset(checkpoints, exports, tmp_path):
    "Quantizing only the LSTM and linear layers (fast convolutions) also works."
    path = onnx_int8(exports['resnet18', 'onnx', None], tmp_path / 'm.onnx', op_types=['MatMul', 'Gemm', 'LSTM'])
    sidecar_path(path).write_text(sidecar_path(exports['resnet18', 'onnx', None]).read_text())
    r = check_export(checkpoints['resnet18'], path, torch.randn(2, 4, 3, 32, 32))
    assert r['max_prob_diff'] <= 0.01


def test_sidecar(checkpoints, exports):
    ckpt = torch.load(checkpoints['resnet18'], map_location='cpu', weights_only=True)
    meta = json.loads(sidecar_path(exports['resnet18', 'onnx', None]).read_text())
    assert meta['model_name'] == 'resnet18' and meta['video_len'] == 4 and meta['input_size'] == 32
    assert meta['num_classes'] == 2 and len(meta['mean']) == len(meta['std']) == 3
    assert meta['preprocess'] == ckpt['preprocess'] and meta['preprocess']['face_size'] == 64
    assert meta['outputs'] == ['frame_logits', 'video_logits'] and meta['format'] == 'onnx'
    assert read_sidecar(exports['mobilenet_v2', 'torchscript', 'int8'])['format'] == 'torchscript'


def test_onnx_model_api(exports):
    model = OnnxModel(exports['resnet18', 'onnx', None])
    assert (model.video_len, model.input_size, model.num_classes) == (4, 32, 2)
    assert len(model.mean) == 3 and len(model.std) == 3 and model.settings['face_size'] == 64
    x = np.random.default_rng(0).standard_normal((3, 4, 3, 32, 32)).astype(np.float32)
    frames, video = model(x)
    assert isinstance(video, torch.Tensor) and frames.shape == (3, 4, 2) and video.shape == (3, 2)
    frames1, video1 = model(torch.from_numpy(x[:1]).double())  # torch in, any float dtype
    assert torch.allclose(video1, video[:1], atol=1e-5) and torch.allclose(frames1, frames[:1], atol=1e-5)
    assert isinstance(load_exported(exports['resnet18', 'torchscript', None]), TorchScriptModel)


def test_default_path_and_video_len(checkpoints):
    ck = checkpoints['mobilenet_v2']
    path = export_model(ck, video_len=2)
    assert path == export_path(ck) == ck.with_suffix('.onnx') and sidecar_path(path).exists()
    model = OnnxModel(path)
    assert model.video_len == 2 and model(torch.zeros(1, 2, 3, 32, 32))[0].shape == (1, 2, 2)
    assert export_path(ck.parent, 'torchscript', 'int8').name == 'model.int8.torchscript.pt'
    with pytest.raises(ValueError):
        export_model(ck, format='tflite')

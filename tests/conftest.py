"Shared fixtures: tiny videos written with OpenCV, the demo set, and the real data when present."
import os
import struct
from pathlib import Path

import cv2
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
# the project's real test videos, beside the repository; DEEPFAKE_TEST_DATA points the tests at another copy
SHARED_DATA = Path(os.environ.get('DEEPFAKE_TEST_DATA') or ROOT.parent / 'shared' / 'data')


def write_video(path, frames, fps=10):
    "Write RGB frames (N×H×W×3 uint8) as an mp4 with cv2.VideoWriter; returns the path."
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*'mp4v'), fps, (w, h))
    for frame in frames:
        writer.write(np.ascontiguousarray(frame[..., ::-1]))
    writer.release()
    return path


def noise_frames(n=12, size=(96, 128), seed=0):
    "Frames with no face in them: smooth moving colour noise."
    rng = np.random.default_rng(seed)
    base = cv2.resize(rng.integers(0, 255, (12, 16, 3), dtype=np.uint8), size[::-1])
    return np.stack([np.roll(base, 4 * i, axis=1) for i in range(n)])


def face_frames(n=12, size=(240, 320)):
    "Frames with scikit-image's astronaut face moving across a grey background."
    from skimage import data
    face = cv2.resize(data.astronaut()[20:220, 140:320], (120, 133))
    frames = []
    for i in range(n):
        frame = np.full((*size, 3), 90, np.uint8)
        x = 20 + (8 * i) % 160
        frame[50:183, x:x + 120] = face
        frames.append(frame)
    return np.stack(frames)


def set_rotation(path, clockwise=90):
    "Write a display matrix into an mp4's track header, as phones do for portrait videos."
    data = Path(path).read_bytes()
    identity = struct.pack('>9I', 0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000)
    matrices = {90: (0, 0x10000, 0, 0xFFFF0000, 0, 0, 0, 0, 0x40000000),
                270: (0, 0xFFFF0000, 0, 0x10000, 0, 0, 0, 0, 0x40000000)}
    at = data.index(identity, data.index(b'tkhd'))
    Path(path).write_bytes(data[:at] + struct.pack('>9I', *matrices[clockwise]) + data[at + 36:])


@pytest.fixture(scope='session')
def demo_videos(tmp_path_factory):
    "The synthetic DFDC-layout demo set."
    from deepfake.demo_data import make_demo_data
    out = tmp_path_factory.mktemp('demo') / 'videos'
    make_demo_data(out)
    return out


@pytest.fixture(scope='session')
def demo_faces(demo_videos, tmp_path_factory):
    "Faces of the demo set, 8 frames per video, 64-pixel crops, with a group-safe split (videos_df.csv)."
    from deepfake.preprocess import preprocess
    from deepfake.sources import read_sources
    from deepfake.split import write_split
    out = tmp_path_factory.mktemp('demo') / 'faces'
    index = preprocess(read_sources([demo_videos]), out, frames=8, face_size=64, progress=False)
    write_split(index, out / 'videos_df.csv', valid_frac=0.25)
    return out


def train_tiny(faces, out, model_name='resnet18'):
    "A 1-epoch checkpoint of `model_name` on 32-pixel, 4-frame clips of `faces`; returns its best.pth."
    from deepfake.args import parse_args
    from deepfake.trainer import train
    train(parse_args(['--root_dir', str(faces), '--save_model_path', str(out), '--exp_name', model_name,
                      '--epochs', '1', '--batch_size', '4', '--workers', '0', '--input_size', '32', '--video_len', '4',
                      '--model_name', model_name, '--hidden_size', '16', '--embed_dim', '32']))
    return out / model_name / 'best.pth'


@pytest.fixture(scope='session')
def tiny_checkpoint(demo_faces, tmp_path_factory):
    "A ResNet18+LSTM trained for one epoch on the demo faces."
    return train_tiny(demo_faces, tmp_path_factory.mktemp('ck'))


def run_cli(capsys, *argv):
    "(exit code, stdout + stderr) of `deepfake ARGV` in this process, argparse's exits included; never a traceback."
    from deepfake.cli import main
    try:
        code = main([str(a) for a in argv])
    except SystemExit as e:
        code = e.code
    out = capsys.readouterr()
    text = out.out + out.err
    assert 'Traceback' not in text, text
    return code, text


def shared_data(name):
    "A folder of ../shared/data, or a skip with the reason."
    path = SHARED_DATA / name
    if not path.exists():
        pytest.skip(f'{path} is absent: the real-data tests need ../shared/data next to the repository (or DEEPFAKE_TEST_DATA)')
    return path


@pytest.fixture(autouse=True, scope='session')
def one_torch_thread():
    "One intra-op thread: on 2 shared cores, torch's spinning thread pool makes small ops 10x slower."
    import torch
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)

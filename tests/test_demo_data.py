"""The synthetic DFDC-style demo set: layout, metadata, decodable videos, determinism, and faces MTCNN can find."""
import json

import cv2
import numpy as np
import pytest

from deepfake.demo_data import make_demo_data

FRAMES, SIZE = 24, (320, 240)


@pytest.fixture(scope='module')
def demo(tmp_path_factory):
    "One default-sized set shared by the tests that only read it: (root, DataFrame)."
    root = tmp_path_factory.mktemp('demo')
    return root, make_demo_data(root, n_originals=6, parts=2, frames=FRAMES, size=SIZE, seed=0)


def read_frames(path):
    "All frames of a video as RGB arrays, decoded by OpenCV."
    cap, frames = cv2.VideoCapture(str(path)), []
    while (got := cap.read())[0]:
        frames.append(cv2.cvtColor(got[1], cv2.COLOR_BGR2RGB))
    return np.stack(frames)


def load_metadata(root):
    "Every part's metadata.json, merged, with the part each video sits in."
    meta = {}
    for path in sorted(root.glob('dfdc_train_part_*/metadata.json')):
        meta.update({name: dict(m, part=path.parent.name) for name, m in json.loads(path.read_text()).items()})
    return meta


def test_layout(demo):
    root, df = demo
    assert sorted(p.name for p in root.iterdir()) == ['dfdc_train_part_0', 'dfdc_train_part_1']
    for part in root.iterdir():
        videos = {p.name for p in part.glob('*.mp4')}
        assert videos == set(json.loads((part / 'metadata.json').read_text()))
    assert list(df.columns) == ['name', 'part', 'label', 'original', 'path']
    assert len(df) == 12 and df.name.is_unique


def test_metadata(demo):
    root, df = demo
    meta = load_metadata(root)
    assert set(meta) == set(df.name)
    for name, m in meta.items():
        assert len(name) == 14 and name[:10].isalpha() and name[:10].islower() and name.endswith('.mp4')
        assert set(m) == {'label', 'split', 'original', 'part'} and m['split'] == 'train'
        if m['label'] == 'REAL':
            assert m['original'] is None
        else:
            assert m['label'] == 'FAKE'
            original = meta[m['original']]
            assert original['label'] == 'REAL' and original['part'] == m['part']
    labels = [m['label'] for m in meta.values()]
    assert labels.count('REAL') == labels.count('FAKE') == 6
    fakes_of = [m['original'] for m in meta.values() if m['label'] == 'FAKE']
    assert len(set(fakes_of)) == 6  # one fake per original


def test_dataframe_matches_files(demo):
    root, df = demo
    meta = load_metadata(root)
    for r in df.itertuples():
        assert f'dfdc_train_part_{r.part}' == meta[r.name]['part']
        assert r.label == meta[r.name]['label']
        assert (r.original if isinstance(r.original, str) else None) == meta[r.name]['original']
    assert sorted(df.part.unique()) == [0, 1]


def test_videos_decode(demo):
    _, df = demo
    for path in df.path:
        assert read_frames(path).shape == (FRAMES, SIZE[1], SIZE[0], 3)


def test_fake_differs_from_its_original_only_around_the_face(demo):
    _, df = demo
    fake = df[df.label == 'FAKE'].iloc[0]
    real = read_frames(df.set_index('name').loc[fake.original, 'path'])[0].astype(int)
    diff = np.abs(read_frames(fake.path)[0].astype(int) - real).sum(2) > 30
    assert 0.002 < diff.mean() < 0.1  # a face-sized patch of the frame, not nothing and not everything


def test_options(tmp_path):
    df = make_demo_data(tmp_path, n_originals=3, parts=3, frames=5, size=(160, 128), fps=8, seed=1)
    assert len(df) == 6 and sorted(df.part.unique()) == [0, 1, 2]
    assert read_frames(df.path[0]).shape == (5, 128, 160, 3)


def test_deterministic(tmp_path):
    a = make_demo_data(tmp_path / 'a', n_originals=2, frames=4, seed=3)
    b = make_demo_data(tmp_path / 'b', n_originals=2, frames=4, seed=3)
    make_demo_data(tmp_path / 'c', n_originals=2, frames=4, seed=4)
    assert load_metadata(tmp_path / 'a') == load_metadata(tmp_path / 'b') != load_metadata(tmp_path / 'c')
    assert a.drop(columns='path').equals(b.drop(columns='path'))
    assert all(np.array_equal(read_frames(p), read_frames(q)) for p, q in zip(a.path, b.path))


def test_mtcnn_finds_the_faces(demo):
    facenet = pytest.importorskip('facenet_pytorch')
    mtcnn = facenet.MTCNN(keep_all=True, device='cpu')
    _, df = demo
    frames = np.concatenate([read_frames(path)[[0, 8, 16, 23]] for path in df.path])
    boxes, _ = mtcnn.detect(frames)  # one batch: far faster on CPU than one call per video
    found = np.array([b is not None and len(b) > 0 for b in boxes]).reshape(len(df), 4)
    assert found.mean() >= 0.9 and found.mean(1).min() >= 0.75  # and no video where the face is mostly missed

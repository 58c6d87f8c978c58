"Tests of deepfake.video_dataset on a tiny synthetic FACES folder (64 px clips)."
import matplotlib
import numpy as np
import pandas as pd
import pytest
import torch

from torchvision import tv_tensors
from torchvision.transforms import v2

from deepfake.video_dataset import IMAGENET_MEAN, IMAGENET_STD, VideoDataset, clip_transforms, frame_indices, show

matplotlib.use('Agg')
SIZE = 64


def numbered_clip(n_frames):
    "Frame i is filled with the value 4*i, so an output frame tells which input frame it came from."
    return np.repeat(4 * np.arange(n_frames, dtype=np.uint8), SIZE * SIZE * 3).reshape(n_frames, SIZE, SIZE, 3)


def frame_numbers(clip):
    "Undo the normalization of a T×C×H×W clip of constant frames: the input frame index of each output frame."
    value = clip[:, 0].mean((1, 2)) * IMAGENET_STD[0] + IMAGENET_MEAN[0]
    return (value * 255 / 4).round().long().tolist()


@pytest.fixture
def faces(tmp_path):
    clips = tmp_path / 'clips'
    clips.mkdir()
    rng = np.random.default_rng(0)
    np.save(clips / 'long.npy', numbered_clip(40))
    np.save(clips / 'short.npy', numbered_clip(5))
    np.save(clips / 'same.npy', np.repeat(rng.integers(0, 256, (1, SIZE, SIZE, 3), dtype=np.uint8), 8, axis=0))
    np.save(clips / '000.npy', numbered_clip(12))
    pd.DataFrame(dict(name=['long', 'short', 'same', '000'], label=['FAKE', 'REAL', 'FAKE', 'REAL'],
                      is_valid=[True, True, False, False], group=['a', 'a', 'b', 'c'])
                 ).to_csv(tmp_path / 'videos_df.csv', index=False)
    return tmp_path


def test_shapes_dtype_labels(faces):
    ds = VideoDataset(faces, video_len=16, input_size=32)
    clip, label = ds[0]
    assert type(clip) is torch.Tensor and clip.shape == (16, 3, 32, 32) and clip.dtype == torch.float32
    assert ds.labels == [1, 0] and label == 1 and isinstance(label, int)
    assert len(ds) == 2 and len(VideoDataset(faces, split='valid')) == 2 and len(VideoDataset(faces, split='all')) == 4


def test_csv_file_forms(faces):
    "A path relative to root_dir, an absolute path or a DataFrame; names stay strings ('000', not 0)."
    df = pd.read_csv(faces / 'videos_df.csv', dtype={'name': str})
    for csv_file in ('videos_df.csv', faces / 'videos_df.csv', df):
        ds = VideoDataset(faces, csv_file, split='train', video_len=4, input_size=SIZE)
        assert ds.videos.name.tolist() == ['same', '000']
        assert ds[1][0].shape == (4, 3, SIZE, SIZE)


def test_eval_frames_evenly_spaced(faces):
    ds = VideoDataset(faces, split='valid', video_len=8, input_size=SIZE)
    assert not ds.train
    assert frame_numbers(ds[0][0]) == np.linspace(0, 39, 8).round().astype(int).tolist()
    assert frame_numbers(ds[0][0]) == frame_numbers(ds[0][0])


def test_train_window_is_consecutive_and_random(faces):
    ds = VideoDataset(faces, split='valid', video_len=8, input_size=SIZE, train=True, augment=False)
    starts = set()
    for _ in range(10):
        numbers = frame_numbers(ds[0][0])
        assert numbers == list(range(numbers[0], numbers[0] + 8))
        starts.add(numbers[0])
    assert len(starts) > 1


def test_short_clips_loop(faces):
    ds = VideoDataset(faces, split='valid', video_len=12, input_size=SIZE)
    assert frame_numbers(ds[1][0]) == [0, 1, 2, 3, 4, 0, 1, 2, 3, 4, 0, 1]
    assert frame_indices(1, 4).tolist() == [0, 0, 0, 0]


def test_clips_are_memory_mapped(faces, monkeypatch):
    calls, load = [], np.load
    monkeypatch.setattr(np, 'load', lambda *a, **kw: calls.append(kw.get('mmap_mode')) or load(*a, **kw))
    VideoDataset(faces, split='valid', video_len=4)[0]
    assert calls and all(mode == 'r' for mode in calls)


def test_one_augmentation_per_clip(faces):
    "Identical frames in, identical frames out: the random crop/flip/rotation/jitter/JPEG are drawn once per clip."
    ds = VideoDataset(faces, split='train', video_len=8, input_size=48)
    assert ds.train
    for _ in range(5):
        clip = ds[0][0]
        assert (clip == clip[0]).all()


def test_each_training_step_draws_once_per_clip():
    "Step by step, the rarely applied hue jitter forced on, and v2.JPEG on a whole batch with one quality."
    frame = torch.randint(0, 256, (1, 3, SIZE, SIZE), dtype=torch.uint8)
    clip = tv_tensors.Video(frame.repeat(6, 1, 1, 1))
    for step in clip_transforms(48, train=True).transforms:
        if isinstance(step, v2.RandomApply):
            step.p = 1.0
        clip = step(clip)
        assert (clip == clip[0]).all(), type(step).__name__


def test_augmentation_levels(faces):
    "light: crop and flip only; none: the evaluation resize even in training; an unknown level is named."
    kinds = lambda t: [type(step).__name__ for step in t.transforms]
    assert kinds(clip_transforms(48, train=True, augment='light')) == [
        'RandomResizedCrop', 'RandomHorizontalFlip', 'ToDtype', 'Normalize']
    assert kinds(clip_transforms(48, train=True, augment='none')) == kinds(clip_transforms(48))
    assert 'JPEG' in kinds(VideoDataset(faces, split='train', video_len=4, input_size=48).transforms)
    assert 'JPEG' not in kinds(VideoDataset(faces, split='train', video_len=4, input_size=48, augment='light').transforms)
    with pytest.raises(ValueError, match="augment='heavy'"):
        clip_transforms(48, train=True, augment='heavy')


def test_two_draws_differ(faces):
    torch.manual_seed(0)
    ds = VideoDataset(faces, split='train', video_len=8, input_size=48)
    assert not torch.equal(ds[0][0], ds[0][0])
    evaluation = VideoDataset(faces, split='train', video_len=8, input_size=48, train=False)
    assert torch.equal(evaluation[0][0], evaluation[0][0])


def test_missing_clip_names_the_file(faces):
    (faces / 'clips' / 'short.npy').unlink()
    with pytest.raises(FileNotFoundError, match='short.npy'):
        VideoDataset(faces, split='valid')[1]


def test_bad_arguments(faces):
    with pytest.raises(ValueError, match='split'):
        VideoDataset(faces, split='test')
    with pytest.raises(ValueError, match='REAL or FAKE'):
        VideoDataset(faces, pd.DataFrame(dict(name=['x'], label=['?'], is_valid=[False])))


def test_show_returns_a_small_figure(faces):
    ds = VideoDataset(faces, split='valid', video_len=8, input_size=32)
    for clip in (ds[0][0], np.load(faces / 'clips' / 'long.npy', mmap_mode='r')[:8]):
        fig = show(clip, ncols=4)
        assert fig.get_size_inches().tolist() == [4, 2]
        matplotlib.pyplot.close(fig)

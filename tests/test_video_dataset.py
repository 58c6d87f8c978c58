"Tests of deepfake.video_dataset and deepfake.augment on a tiny synthetic FACES folder (64 px clips)."
import matplotlib
import numpy as np
import pandas as pd
import pytest
import torch

from deepfake.augment import ClipAugment, jpeg, prepare_clips, resize_frames, self_blend
from deepfake.video_dataset import VideoDataset, frame_indices, show

matplotlib.use('Agg')
SIZE = 64


def numbered_clip(n_frames):
    "Frame i is filled with the value 4*i, so an output frame tells which input frame it came from."
    return np.repeat(4 * np.arange(n_frames, dtype=np.uint8), SIZE * SIZE * 3).reshape(n_frames, SIZE, SIZE, 3)


def frame_numbers(clip):
    "The input frame index of each frame of a uint8 T×C×H×W clip of constant frames."
    return (clip[:, 0].float().mean((1, 2)) / 4).round().long().tolist()


@pytest.fixture
def faces(tmp_path):
    clips = tmp_path / 'clips'
    clips.mkdir()
    rng = np.random.default_rng(0)
    np.save(clips / 'long.npy', numbered_clip(40))
    np.save(clips / 'short.npy', numbered_clip(5))
    np.save(clips / 'same.npy', np.repeat(rng.integers(0, 256, (1, SIZE, SIZE, 3), dtype=np.uint8), 8, axis=0))
    np.save(clips / 'same.landmarks.npy', np.tile(np.float32([[20, 24], [44, 24], [32, 34], [24, 44], [40, 44]]),
                                                  (8, 1, 1)))
    np.save(clips / '000.npy', numbered_clip(12))
    pd.DataFrame(dict(name=['long', 'short', 'same', '000'], label=['FAKE', 'REAL', 'FAKE', 'REAL'],
                      is_valid=[True, True, False, False], group=['a', 'a', 'b', 'c'])
                 ).to_csv(tmp_path / 'videos_df.csv', index=False)
    return tmp_path


def test_items_are_uint8_windows_with_landmarks(faces):
    ds = VideoDataset(faces, video_len=16)
    clip, points, label = ds[0]
    assert type(clip) is torch.Tensor and clip.shape == (16, 3, SIZE, SIZE) and clip.dtype == torch.uint8
    assert points.shape == (16, 5, 2) and points[0, 2].tolist() == [32, 34] and label == 1
    assert ds.labels == [1, 0] and ds[1][1].isnan().all()  # no landmarks file: NaN
    assert len(ds) == 2 and len(VideoDataset(faces, split='valid')) == 2 and len(VideoDataset(faces, split='all')) == 4


def test_csv_file_forms(faces):
    "A path relative to root_dir, an absolute path or a DataFrame; names stay strings ('000', not 0)."
    df = pd.read_csv(faces / 'videos_df.csv', dtype={'name': str})
    for csv_file in ('videos_df.csv', faces / 'videos_df.csv', df):
        ds = VideoDataset(faces, csv_file, split='train', video_len=4)
        assert ds.videos.name.tolist() == ['same', '000'] and ds[1][0].shape == (4, 3, SIZE, SIZE)


def test_eval_frames_evenly_spaced(faces):
    ds = VideoDataset(faces, split='valid', video_len=8)
    assert not ds.train
    assert frame_numbers(ds[0][0]) == np.linspace(0, 39, 8).round().astype(int).tolist() == frame_numbers(ds[0][0])


def test_train_window_is_consecutive_and_random(faces):
    ds = VideoDataset(faces, split='valid', video_len=8, train=True)
    starts = set()
    for _ in range(10):
        numbers = frame_numbers(ds[0][0])
        assert numbers == list(range(numbers[0], numbers[0] + 8))
        starts.add(numbers[0])
    assert len(starts) > 1


def test_all_clips_per_video_covers_every_frame(faces):
    "clips_per_video='all': a 40-frame clip gives five 8-frame windows side by side; a 1-frame window is every face."
    ds = VideoDataset(faces, split='valid', video_len=8, clips_per_video='all', train=True)
    assert len(ds) == 5 + 1  # long: 5 windows; short (5 frames): 1
    seen = sorted(n for i in range(5) for n in frame_numbers(ds[i][0]))
    assert seen == list(range(40))
    frames = VideoDataset(faces, split='valid', video_len=1, clips_per_video='all', train=True)
    assert len(frames) == 40 + 5 and sorted(frame_numbers(frames[i][0])[0] for i in range(40)) == list(range(40))
    assert len(VideoDataset(faces, split='valid', video_len=8, clips_per_video=3, train=True)) == 6


def test_short_clips_loop(faces):
    ds = VideoDataset(faces, split='valid', video_len=12)
    assert frame_numbers(ds[1][0]) == [0, 1, 2, 3, 4, 0, 1, 2, 3, 4, 0, 1]
    assert frame_indices(1, 4).tolist() == [0, 0, 0, 0]


def test_clips_are_memory_mapped(faces, monkeypatch):
    calls, load = [], np.load
    monkeypatch.setattr(np, 'load', lambda *a, **kw: calls.append(kw.get('mmap_mode')) or load(*a, **kw))
    VideoDataset(faces, split='valid', video_len=4)[0]
    assert calls and all(mode == 'r' for mode in calls)


def test_one_augmentation_per_clip_and_reproducible(faces):
    "Identical frames in, identical frames out (one draw per clip); clips of a batch differ; a seed repeats a batch."
    still = VideoDataset(faces, split='train', video_len=8)[0][0]
    batch = torch.stack([still, still, still])
    for level in ('full', 'light', 'none'):
        torch.manual_seed(0)
        out = ClipAugment(48, level)(batch)
        torch.manual_seed(0)
        assert out.dtype == torch.uint8 and out.shape == (3, 8, 3, 48, 48) and torch.equal(out, ClipAugment(48, level)(batch))
        assert (out == out[:, :1]).all(), level
    assert not torch.equal(out[0], ClipAugment(48)(batch)[1])
    with pytest.raises(ValueError, match="augment='heavy'"):
        ClipAugment(48, 'heavy')


def test_jpeg_and_prepare(faces):
    clip = VideoDataset(faces, split='train', video_len=4)[0][0]
    again = jpeg(clip, 30)
    assert again.dtype == torch.uint8 and again.shape == clip.shape and not torch.equal(again, clip)
    ready = prepare_clips(clip[None], 32, mean=(0.5,) * 3, std=(0.25,) * 3)
    assert ready.shape == (1, 4, 3, 32, 32) and ready.dtype == torch.float32 and ready.min() >= -2 and ready.max() <= 2


@pytest.mark.parametrize('dtype', [torch.uint8, torch.float32, torch.float64, torch.float16])
@pytest.mark.parametrize('layout', ['crops', 'contiguous', 'one_of_a_batch'])
def test_resize_and_prepare_as_torchvision(dtype, layout):
    """`resize_frames` and `prepare_clips`, written without torchvision.transforms.v2 (which imports torch._dynamo),
    give v2's `resize` and `normalize` numbers to the bit: smaller and larger, a single frame and a batch, the
    channels-last crops predict stacks, contiguous frames, and a frame cut out of a batch."""
    from torchvision.transforms.v2 import functional as TF
    g = torch.Generator().manual_seed(0)
    for n, side, size in [(1, 64, 32), (8, 64, 48), (5, 40, 72)]:
        pixels = torch.randint(0, 256, (n + 2, side, side, 3), dtype=torch.uint8, generator=g).permute(0, 3, 1, 2)
        frames = {'crops': pixels[:n], 'contiguous': pixels[:n].contiguous(), 'one_of_a_batch': pixels[1:2]}[layout]
        frames = frames.to(dtype) if dtype == torch.uint8 else (frames.to(dtype) / 255)
        expected = TF.resize(frames, [size, size], antialias=True)
        got = resize_frames(frames, size)
        assert got.dtype == expected.dtype and got.is_contiguous(memory_format=torch.channels_last) == \
            expected.is_contiguous(memory_format=torch.channels_last) and torch.equal(got, expected), (n, side, size)
        if dtype == torch.uint8:
            mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
            expected = TF.normalize(TF.resize(frames, [size, size], antialias=True).float().div_(255), list(mean), list(std))
            assert torch.equal(prepare_clips(frames[None], size, mean, std)[0], expected)


def test_self_blend_shapes_ranges_and_one_draw_per_clip(faces):
    "A self-blended fake: uint8, the clip's shape, the same change on every (identical) frame, unchanged outside the face."
    clip, points, _ = VideoDataset(faces, split='train', video_len=8)[0]
    torch.manual_seed(3)
    fakes = self_blend(torch.stack([clip, clip]), torch.stack([points, points]))
    assert fakes.dtype == torch.uint8 and fakes.shape == (2, 8, 3, SIZE, SIZE)
    assert (fakes == fakes[:, :1]).all() and not torch.equal(fakes[0], clip)
    assert torch.equal(fakes[:, :, :, :2, :2], torch.stack([clip, clip])[:, :, :, :2, :2])  # a corner is background
    ellipse = self_blend(clip[None], torch.full((1, 8, 5, 2), float('nan')))  # no landmarks: the margin's ellipse
    assert ellipse.shape == (1, 8, 3, SIZE, SIZE)
    torch.manual_seed(3)
    paper = self_blend(torch.stack([clip, clip]), torch.stack([points, points]), blend='paper')  # the SBI paper's way
    assert paper.dtype == torch.uint8 and paper.shape == fakes.shape and (paper == paper[:, :1]).all()
    assert not torch.equal(paper, fakes)
    with pytest.raises(ValueError, match='blend'):
        self_blend(clip[None], points[None], blend='other')


def test_missing_clip_names_the_file(faces):
    (faces / 'clips' / 'short.npy').unlink()
    with pytest.raises(FileNotFoundError, match='short.npy'):
        VideoDataset(faces, split='valid')


def test_corrupt_clip_names_the_file(faces):
    (faces / 'clips' / 'short.npy').write_bytes(b'\x93NUMPY garbage')
    with pytest.raises(ValueError, match='short.npy.*not readable'):
        VideoDataset(faces, split='valid')


def test_bad_arguments(faces):
    with pytest.raises(ValueError, match='split'):
        VideoDataset(faces, split='test')
    (faces / 'bad.csv').write_text('name,label,is_valid\nlong,maybe,0\n')
    with pytest.raises(ValueError, match='bad.csv: line 2: label'):
        VideoDataset(faces, 'bad.csv')


def test_show_returns_a_small_figure(faces):
    ds = VideoDataset(faces, split='valid', video_len=8)
    ready = prepare_clips(ds[0][0][None], 32, (0.485, 0.456, 0.406), (0.229, 0.224, 0.225))[0]
    for clip in (ds[0][0], ready, np.load(faces / 'clips' / 'long.npy', mmap_mode='r')[:8]):
        fig = show(clip, ncols=4)
        assert fig.get_size_inches().tolist() == [4, 2]
        matplotlib.pyplot.close(fig)

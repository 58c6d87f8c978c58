"Frames, faces and the preprocessing run: resumable, sharded, and bad videos recorded rather than fatal."
import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import face_frames, noise_frames, set_rotation, shared_data, write_video

from deepfake.cli import main
from deepfake.faces import FaceExtractor, assign_tracks, box_iou, crop_face
from deepfake.preprocess import auto_workers, parse_shard, preprocess
from deepfake.sources import read_source, read_sources
from deepfake.video_io import VideoError, read_frames, sample_indices


def test_sample_indices():
    assert sample_indices(300, frames=4).tolist() == [0, 100, 199, 299]
    assert sample_indices(50, interval=20).tolist() == [0, 20, 40]
    assert sample_indices(3, frames=32).tolist() == [0, 1, 2]
    assert sample_indices(0, frames=8).tolist() == []


def test_read_frames_one_pass(tmp_path):
    frames = np.stack([np.full((32, 48, 3), 10 * i, np.uint8) for i in range(20)])
    f = read_frames(write_video(tmp_path / 'v.mp4', frames), frames=5)
    assert f.images.shape == (5, 32, 48, 3) and f.indices.tolist() == [0, 5, 10, 14, 19] and f.n_frames == 20
    # the k-th kept image is the k-th sampled frame (brightness grows with the index)
    assert np.allclose(f.images.mean(axis=(1, 2, 3)), frames[f.indices].mean(axis=(1, 2, 3)), atol=4)


def test_sparse_samples_skip_nonreference_frames():
    "32 of 300 frames: the decoder skips non-reference frames; each sample is the same pixels a full decode gives."
    path = shared_data('dfdc_sample') / 'dfdc_train_part_0' / 'brtujopkby.mp4'
    sparse = read_frames(path, frames=32)
    offset = sparse.indices - sample_indices(sparse.n_frames, frames=32)
    assert len(sparse.indices) == 32 and offset.min() >= 0 and offset.max() <= 2, offset
    dense = read_frames(path, interval=1, max_frames=60)  # every frame: nothing skipped
    early = sparse.indices < 60
    assert np.array_equal(sparse.images[early], dense.images[sparse.indices[early]])


@pytest.mark.parametrize('clockwise', [90, 270])
def test_rotated_video_is_turned_upright(tmp_path, clockwise):
    frames = np.zeros((4, 32, 64, 3), np.uint8)
    frames[:, :, :10] = 255  # a bright stripe on the left edge
    path = write_video(tmp_path / 'phone.mp4', frames)
    set_rotation(path, clockwise)
    image = read_frames(path, frames=2).images[0]
    assert image.shape == (64, 32, 3)
    top, bottom = image[:8].mean(), image[-8:].mean()
    # turned clockwise, the left edge comes to the top; counterclockwise, to the bottom
    assert (top > 200 and bottom < 50) if clockwise == 90 else (bottom > 200 and top < 50)


def test_bad_files_raise_with_path_and_reason(tmp_path):
    empty, text, cut = tmp_path / 'empty.mp4', tmp_path / 'text.mp4', tmp_path / 'cut.mp4'
    empty.write_bytes(b'')
    text.write_text('hello ' * 1000)
    good = write_video(tmp_path / 'good.mp4', noise_frames(30))
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    for path, reason in [(empty, 'empty file'), (text, 'not a readable video'), (cut, 'truncated|decoding failed|not a readable'),
                         (tmp_path / 'none.mp4', 'no such file')]:
        with pytest.raises(VideoError, match=reason) as e:
            read_frames(path, frames=8)
        assert str(path) in str(e.value)


def test_detect_on_few_frames_and_track_between():
    "On a real 1080p clip MTCNN runs on 9 of 32 frames; the interpolated boxes match detection on every frame."
    images = read_frames(shared_data('dfdc_sample') / 'dfdc_train_part_10' / 'widuwuoiur.mp4', frames=32).images
    few, calls = FaceExtractor(), []
    detect_small = few.detect_small
    few.detect_small = lambda batch, scale: calls.append(len(batch)) or detect_small(batch, scale)
    boxes, *_ = few.detect(images)
    every, *_ = FaceExtractor(detect_every=1).detect(images)
    assert sum(calls) == 9 and [len(b) for b in boxes] == [len(b) for b in every] == [1] * 32
    assert all(box_iou(a, b)[0, 0] >= 0.7 for a, b in zip(boxes, every))


def test_crop_is_square_with_margin_and_padded():
    image = np.full((100, 200, 3), 255, np.uint8)
    crop = crop_face(image, (50, 20, 90, 80), margin=0.5, size=30)  # 40×60 box → 90-pixel square
    assert crop.shape == (30, 30, 3) and crop.min() == 255
    edge = crop_face(image, (0, 0, 20, 20), margin=1.0, size=40)  # half of the square lies outside
    assert edge[:10, :10].max() == 0 and edge[30:, 30:].min() == 255


def test_tracks_follow_people_and_rank_by_size():
    boxes = [[(0, 0, 10, 10), (50, 50, 90, 90)], [(52, 50, 92, 90)], [(1, 0, 11, 10), (54, 50, 94, 90)]]
    assert assign_tracks(boxes) == [[1, 0], [0], [1, 0]]
    assert assign_tracks([[], [(0, 0, 5, 5)]]) == [[], [0]]


def test_extractor_finds_the_face_and_maps_boxes_back():
    frames = face_frames(4, size=(480, 640))  # detected at 320 px, cropped at full size
    faces = FaceExtractor(face_size=48, detect_size=320)(frames, [0, 3, 6, 9])
    main_track = [f for f in faces if f.track == 0]
    assert [f.frame for f in main_track] == [0, 3, 6, 9] and all(f.crop.shape == (48, 48, 3) for f in faces)
    x1, y1, x2, y2 = main_track[0].box
    assert 10 < x1 < 80 and 30 < y1 < 110 and x2 < 200 and y2 < 200 and main_track[0].prob > 0.9


@pytest.fixture
def mixed_folder(tmp_path):
    "A folder of unlabelled videos: a face, no face, zero bytes, text, truncated."
    folder = tmp_path / 'videos'
    write_video(folder / 'face.mp4', face_frames(10))
    write_video(folder / 'noface.mp4', noise_frames(10))
    (folder / 'zero.mp4').write_bytes(b'')
    (folder / 'text.mp4').write_text('not a video\n' * 100)
    good = write_video(tmp_path / 'long.mp4', face_frames(40))
    (folder / 'truncated.mp4').write_bytes(good.read_bytes()[: good.stat().st_size * 2 // 3])
    return folder


def test_preprocess_records_every_outcome(mixed_folder, tmp_path):
    out = tmp_path / 'faces'
    index = preprocess(read_source(mixed_folder), out, frames=6, face_size=32, progress=False).set_index('name')
    assert index.status.to_dict() == {'face': 'ok', 'noface': 'no_face', 'text': 'error',
                                      'truncated': 'error', 'zero': 'error'}
    assert 'empty file' in index.error['zero'] and str(mixed_folder / 'text.mp4') in index.error['text']
    assert index.frames['face'] == 6 and index.faces['face'] >= 5
    clip = np.load(out / 'clips' / 'face.npy', mmap_mode='r')
    assert clip.dtype == np.uint8 and clip.shape[1:] == (32, 32, 3) and clip.shape[0] >= 5
    assert sorted(os.listdir(out / 'crops' / 'face'))[0] == '0_00000.jpg'
    assert not (out / 'clips' / 'noface.npy').exists() and not (out / '.tmp').exists()
    on_disk = pd.read_csv(out / 'index.csv')
    assert list(on_disk.columns[:13]) == ['name', 'path', 'label', 'original', 'group', 'source', 'method',
                                          'frames', 'faces', 'tracks', 'status', 'error', 'seconds']


def test_resume_skips_done_and_recovers_from_a_crash(mixed_folder, tmp_path, monkeypatch):
    import deepfake.preprocess as pp
    table, out = read_source(mixed_folder), tmp_path / 'faces'
    real_publish = pp._publish

    def crash(tmp, out_, name):
        if name == 'face':
            raise KeyboardInterrupt  # the machine goes down mid-video
        real_publish(tmp, out_, name)
    monkeypatch.setattr(pp, '_publish', crash)
    with pytest.raises(KeyboardInterrupt):
        preprocess(table, out, frames=6, face_size=32, progress=False)
    assert not (out / 'clips' / 'face.npy').exists() and not (out / 'rows' / 'face.json').exists()
    assert not list((out / '.tmp').iterdir())  # nothing half-written left behind
    monkeypatch.setattr(pp, '_publish', real_publish)
    first = preprocess(table, out, frames=6, face_size=32, progress=False).set_index('name')
    assert first.status['face'] == 'ok'
    done = {p.name: p.stat().st_mtime_ns for p in (out / 'rows').iterdir()}
    preprocess(table, out, frames=6, face_size=32, progress=False)
    assert {p.name: p.stat().st_mtime_ns for p in (out / 'rows').iterdir()} == done  # nothing redone
    with pytest.raises(ValueError, match='other settings'):
        preprocess(table, out, frames=6, face_size=64, progress=False)


def test_shards_partition_the_videos(mixed_folder, tmp_path):
    table, out = read_source(mixed_folder), tmp_path / 'faces'
    first = preprocess(table, out, frames=4, face_size=32, shard='0/2', progress=False)
    assert 'pending' in set(first.status) or len(first) == (first.status != 'pending').sum()
    second = preprocess(table, out, frames=4, face_size=32, shard=(1, 2), progress=False)
    assert 'pending' not in set(second.status) and len(list((out / 'rows').iterdir())) == len(table)
    with pytest.raises(ValueError, match='i/n'):
        parse_shard('half')
    with pytest.raises(ValueError, match='0..n-1'):
        parse_shard('2/2')


def test_workers_give_the_same_faces(demo_videos, tmp_path):
    table = read_sources([demo_videos]).head(4)
    one = preprocess(table, tmp_path / 'one', frames=4, face_size=32, progress=False)
    two = preprocess(table, tmp_path / 'two', frames=4, face_size=32, workers=2, progress=False)
    assert one.faces.tolist() == two.faces.tolist() and (two.status == 'ok').all()
    for name in table.name:
        assert np.array_equal(np.load(tmp_path / 'one' / 'clips' / f'{name}.npy'),
                              np.load(tmp_path / 'two' / 'clips' / f'{name}.npy'))


def test_auto_workers_one_a_core_for_runs_big_enough(monkeypatch):
    import deepfake.preprocess as pre
    monkeypatch.setattr(pre.torch, 'get_num_threads', lambda: 4)
    assert [auto_workers(n) for n in (0, 3, 15, 16, 31, 10_000)] == [1, 1, 1, 2, 3, 4]
    pages = {'SC_PAGE_SIZE': 4096, 'SC_PHYS_PAGES': (5 << 30) // 4096}  # a 5 GB machine: room for 2 workers
    monkeypatch.setattr(pre.os, 'sysconf', pages.__getitem__)
    assert auto_workers(10_000) == 2


def test_workers_start_by_default_only_where_no_code_runs_twice(monkeypatch):
    import sys
    import types
    import deepfake.preprocess as pre
    script = types.ModuleType('__main__')
    script.__file__ = '/home/me/my_script.py'  # a worker would run its unguarded top-level code again
    monkeypatch.setitem(sys.modules, '__main__', script)
    assert not pre.spawn_safe()
    monkeypatch.setitem(sys.modules, '__main__', types.ModuleType('__main__'))  # Jupyter, the REPL, python -c
    assert pre.spawn_safe()


def test_the_command_chooses_its_workers(demo_videos, monkeypatch, tmp_path):
    import shutil
    import deepfake.preprocess as pre
    chosen = []
    monkeypatch.setattr(pre, 'auto_workers', lambda n: chosen.append(n) or 1)
    (tmp_path / 'src').mkdir()
    shutil.copy(next(demo_videos.rglob('*.mp4')), tmp_path / 'src')
    # run from a script (pytest's), the command still chooses: its own entry script is guarded
    assert main(['preprocess', str(tmp_path / 'src'), '--out', str(tmp_path / 'faces'), '--frames', '2']) == 0
    assert chosen == [1]


def test_face_image_set_is_packed_without_detection(tmp_path):
    import cv2
    src = tmp_path / 'src'
    for name in ['p1', 'p2']:
        (src / name).mkdir(parents=True)
        for k in range(5):
            cv2.imwrite(str(src / name / f'{k:03d}.png'), noise_frames(1, (50, 40), seed=k)[0])
    (src / 'metadata.csv').write_text('name,label,original\np1.mp4,REAL,\np2.mp4,FAKE,p1.mp4\n')
    index = preprocess(read_source(src), tmp_path / 'faces', frames=3, face_size=24, progress=False)
    assert (index.status == 'ok').all() and index.faces.tolist() == [3, 3]
    assert np.load(tmp_path / 'faces' / 'clips' / 'p2.npy').shape == (3, 24, 24, 3)


def test_cli_exit_codes(tmp_path, capsys):
    bad = tmp_path / 'bad'
    bad.mkdir()
    (bad / 'zero.mp4').write_bytes(b'')
    assert main(['preprocess', str(bad), '--out', str(tmp_path / 'f1'), '--frames', '4']) == 1  # all failed
    assert 'empty file' in capsys.readouterr().out
    write_video(bad / 'ok.mp4', face_frames(6))
    assert main(['preprocess', str(bad), '--out', str(tmp_path / 'f2'), '--frames', '4']) == 0
    assert main(['preprocess', str(tmp_path / 'nowhere'), '--out', str(tmp_path / 'f3')]) == 2


def test_real_dfdc_sample(tmp_path):
    "The 4 present DFDC videos (1080p, portrait, 720p) yield faces; the 3 absent ones are reported missing."
    src = shared_data('dfdc_sample')
    index = preprocess(read_source(src), tmp_path / 'faces', frames=8, face_size=64, progress=False)
    status = index.set_index('name').status
    assert sorted(status[status == 'missing'].index) == ['awnfpubqmo', 'vtfpbtmgfh', 'zvqinhzeah']
    assert sorted(status[status == 'ok'].index) == ['brtujopkby', 'lynaeydofd', 'widuwuoiur', 'yhffcuhhjy']
    for name in status[status == 'ok'].index:
        clip = np.load(tmp_path / 'faces' / 'clips' / f'{name}.npy')
        assert clip.shape[0] >= 6 and clip.shape[1:] == (64, 64, 3)
    assert json.loads((tmp_path / 'faces' / 'preprocess.json').read_text())['face_size'] == 64


def test_detector_processes_give_the_same_faces_folder(tmp_path):
    "Workers asking a detector process (the default with workers) write the faces folder of one process."
    table = read_source(shared_data('dfdc_sample'))
    table = pd.concat([table[table.status != 'missing'], read_source(shared_data('ffpp_c23')).head(2)])
    one = preprocess(table, tmp_path / 'one', frames=8, face_size=64, workers=1, progress=False)
    served = preprocess(table, tmp_path / 'served', frames=8, face_size=64, workers=2, detect_server=True,
                        progress=False)
    columns = ['name', 'frames', 'faces', 'tracks', 'status']
    assert served[columns].equals(one[columns]) and (one.status == 'ok').all()
    for name in table.name:
        crops = [sorted(os.listdir(tmp_path / run / 'crops' / name)) for run in ('one', 'served')]
        assert crops[0] == crops[1], name
        a, b = (np.load(tmp_path / run / 'clips' / f'{name}.npy').astype(float) for run in ('one', 'served'))
        assert np.abs(a - b).mean() < 1, name  # the same boxes: a box moved by a pixel changes the crop far more
        a, b = (np.load(tmp_path / run / 'clips' / f'{name}.landmarks.npy') for run in ('one', 'served'))
        assert np.allclose(a, b, atol=0.5), name


def test_detector_process_answers_every_size_and_its_end_is_an_error():
    "Two workers' frames of two sizes get MTCNN's own answers; once the process is gone, a call raises, not hangs."
    import threading
    from skimage import data as skdata
    from deepfake.detect_server import Detectors, connect
    from deepfake.mtcnn import detect_faces
    face = skdata.astronaut()
    batches = [np.stack([face, face[:, ::-1]]), face[None, 50:350]]  # 2 frames of 512x512, 1 of 300x512
    mtcnn = FaceExtractor().mtcnn
    expected = [detect_faces(frames, mtcnn) for frames in batches]
    with Detectors(dict(device='cpu'), workers=2) as detectors:
        assert len(detectors.servers) == 1
        clients = [connect(*detectors.client_args()) for _ in batches]
        answers = [None, None]
        def ask(k):
            answers[k] = clients[k](batches[k])
        threads = [threading.Thread(target=ask, args=(k,)) for k in range(2)]
        [t.start() for t in threads]
        [t.join() for t in threads]
        for got, want in zip(answers, expected):
            assert len(got) == len(want) and all(len(g[0]) > 0 for g in got)
            for (boxes, points), (b, p) in zip(got, want):
                assert np.allclose(boxes, b, atol=1e-3) and np.allclose(points, p, atol=1e-3)
        detectors.servers[0].process.kill()
        with pytest.raises(RuntimeError, match='detector process stopped'):
            clients[0](batches[0])


def test_one_detector_for_two_cpu_workers_one_for_all_on_a_gpu():
    from deepfake.detect_server import Detectors
    count = lambda device, workers: [len(s.replies) for s in Detectors(dict(device=device), workers).servers]
    assert count('cpu', 1) == [1] and count('cpu', 2) == [2] and count('cpu', 5) == [2, 2, 1]
    assert count('cuda', 16) == [16] and count(torch.device('cuda', 0), 3) == [3]


def test_landmarks_on_real_ffpp_faces_are_plausible(tmp_path):
    "Each kept crop has MTCNN's 5 landmarks in crop pixels: eyes above the nose above the mouth, inside the crop."
    root = shared_data('ffpp_c23')
    table = read_source(root)
    table = table[table.name.isin(['youtube_000', 'Deepfakes_000_003', 'Face2Face_001_870', 'FaceSwap_003_000'])]
    table = table if len(table) else read_source(root).groupby('method').head(1)
    index = preprocess(table, tmp_path / 'faces', frames=8, face_size=96, progress=False)
    assert (index.status == 'ok').all()
    for name in index.name:
        clip = np.load(tmp_path / 'faces' / 'clips' / f'{name}.npy')
        points = np.load(tmp_path / 'faces' / 'clips' / f'{name}.landmarks.npy')
        assert points.shape == (len(clip), 5, 2) and np.isfinite(points).all()
        eyes_y, nose_y, mouth_y = points[:, :2, 1].mean(1), points[:, 2, 1], points[:, 3:, 1].mean(1)
        assert (eyes_y < nose_y).all() and (nose_y < mouth_y).all(), name
        assert (points[:, 0, 0] < points[:, 1, 0]).all() and ((points > 0) & (points < 96)).all(), name
        eye_distance = np.linalg.norm(points[:, 1] - points[:, 0], axis=1)
        assert (eye_distance > 96 * 0.15).all() and (eye_distance < 96 * 0.6).all(), name  # a face, margin 0.3


@pytest.mark.parametrize('clip', ['dfdc_sample/dfdc_train_part_0/brtujopkby.mp4',  # yuv420p
                                  'ffpp_c23/original_sequences/youtube/c23/videos/033.mp4',  # yuv444p
                                  'rotated'])  # converted whole, then cut
def test_a_region_of_a_held_frame_is_the_whole_frames_pixels(clip, tmp_path):
    "A region converted alone gives exactly the pixels of the whole frame's RGB image, odd edges included."
    from deepfake.video_io import FrameStream
    if clip == 'rotated':
        path = write_video(tmp_path / 'r.mp4', noise_frames(4, (48, 64)))
        set_rotation(path, 90)
    else:
        path = shared_data(clip.split('/')[0]).parent / clip
    rng = np.random.default_rng(0)
    for _, held in FrameStream(path, frames=3):
        whole = held.rgb()
        if clip == 'rotated':
            assert held.rotation
        else:  # the region must convert alone, not be cut from a whole conversion
            held.rgb = None
        h, w = whole.shape[:2]
        regions = [(0, h, 0, w), (h - 1, h, w - 1, w)] + [
            tuple(sorted(rng.integers(0, h + 1, 2))) + tuple(sorted(rng.integers(0, w + 1, 2))) for _ in range(30)]
        for top, bottom, left, right in regions:
            assert np.array_equal(held[top:bottom, left:right], whole[top:bottom, left:right]), (top, bottom, left, right)


def test_held_frames_give_the_same_faces():
    "Streamed frames, held as the decoder made them (YUV), give the very faces of RGB arrays: same boxes and pixels."
    from deepfake.video_io import FrameStream
    clip, extractor = shared_data('dfdc_sample') / 'dfdc_train_part_10' / 'yhffcuhhjy.mp4', FaceExtractor()
    frames = read_frames(clip, frames=12)
    held, rgb = extractor(FrameStream(clip, frames=12)), extractor(frames.images, frames.indices)
    assert len(held) == len(rgb) > 12  # two people in this clip
    for a, b in zip(held, rgb):
        assert (a.frame, a.track, a.box) == (b.frame, b.track, b.box) and np.array_equal(a.crop, b.crop)


def test_frames_decoded_ahead_are_the_same_and_errors_arrive_in_place():
    """A stream decoded by a thread ahead of its consumer: the same frames, its errors raised where they happen, and a
    consumer that stops early stops the thread."""
    import threading
    from deepfake.video_io import FrameStream, read_ahead
    clip = shared_data('dfdc_sample') / 'dfdc_train_part_0' / 'brtujopkby.mp4'
    inline = [(i, f.rgb()) for i, f in FrameStream(clip, frames=12)]
    ahead = [(i, f.rgb()) for i, f in FrameStream(clip, frames=12, ahead=3, threads=1)]
    assert [i for i, _ in ahead] == [i for i, _ in inline] and all(np.array_equal(a, b) for (_, a), (_, b) in zip(ahead, inline))
    for i, _ in FrameStream(clip, frames=12, ahead=2):
        break
    assert not [t for t in threading.enumerate() if t.name == 'read_ahead']

    def breaks_off():  # what a stream cut off in the middle does
        yield 'frame 0'
        yield 'frame 1'
        raise VideoError('cut.mp4: decoding failed at frame 2 of 300')
    got = []
    with pytest.raises(VideoError, match='cut.mp4: decoding failed'):
        for item in read_ahead(breaks_off(), 1):
            got.append(item)
    assert got == ['frame 0', 'frame 1']


def test_one_key_frame_a_call_gives_the_same_faces():
    "predict's extractor (one key frame to an MTCNN call, frames decoded ahead) finds preprocessing's faces."
    from deepfake.video_io import FrameStream
    for clip in [shared_data('dfdc_sample') / 'dfdc_train_part_0' / 'brtujopkby.mp4',
                 shared_data('dfdc_sample') / 'dfdc_train_part_10' / 'yhffcuhhjy.mp4']:  # two people
        ours = FaceExtractor()(FrameStream(clip, frames=32, ahead=8, threads=1), key_batch=1)
        theirs = FaceExtractor()(FrameStream(clip, frames=32))
        assert len(ours) == len(theirs) >= 32
        for a, b in zip(ours, theirs):
            assert (a.frame, a.track) == (b.frame, b.track) and np.allclose(a.box, b.box, atol=1e-3)
            assert np.abs(a.crop.astype(int) - b.crop).mean() < 0.5


PEAK_GROWTH = """import re, sys
from pathlib import Path
from deepfake.faces import FaceExtractor
from deepfake.preprocess import WORKER_AHEAD
from deepfake.video_io import MTCNN_HEAP, FrameStream, set_heap
clip, beside = sys.argv[1], sys.argv[2] == 'beside'
if beside:
    set_heap(**MTCNN_HEAP)
extractor = FaceExtractor()
status = lambda key: int(re.search(key + r':\\s+(\\d+)', Path('/proc/self/status').read_text()).group(1)) / 1024

def growth(frames):
    Path('/proc/self/clear_refs').write_text('5')  # resets VmHWM, the peak, to the current size
    before = status('VmRSS')
    stream = FrameStream(clip, frames=frames, ahead=WORKER_AHEAD if beside else 0, threads=1 if beside else 0)
    faces = extractor(stream, key_batch=1 if beside else None)
    assert len({f.frame for f in faces}) == frames
    return status('VmHWM') - before

# a decoder thread holds up to WORKER_AHEAD frames by design: the smaller run fills its queue too
few = 8 + (WORKER_AHEAD if beside else 0)
growth(few)  # the first run's one-off allocations (MTCNN's buffers, the decoder's libraries) are not growth
print(few, growth(few), growth(64))
"""


@pytest.mark.parametrize('way', ['in turns', 'beside'])
def test_face_extraction_memory_does_not_grow_with_frames(way):
    """Streaming: the peak resident memory of extracting 64 frames of a 1080p clip is within 64 MB of extracting 8
    as a worker extracts them (decoding and detecting in turns, glibc's mmap threshold at 1 MB), and of extracting 24
    as one-process preprocessing does (a decoder thread up to 16 frames ahead of MTCNN, `MTCNN_HEAP`). In a fresh
    process: the heap's settings are the process's."""
    import subprocess
    import sys
    clip = shared_data('dfdc_sample') / 'dfdc_train_part_0' / 'brtujopkby.mp4'
    try:
        Path('/proc/self/clear_refs').write_text('5')
    except OSError:
        pytest.skip('no /proc/self/clear_refs here: peak memory cannot be reset')
    run = subprocess.run([sys.executable, '-c', PEAK_GROWTH, str(clip), way], capture_output=True, text=True, check=True)
    few, small, large = map(float, run.stdout.split()[-3:])
    assert large - small < 64, (few, small, large)  # holding every frame: 6.2 MB a frame more

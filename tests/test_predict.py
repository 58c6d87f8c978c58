"Predict and evaluate: the training face pipeline reused, the aggregation rule, 0.5 with a reason, the report."
import json

import pandas as pd
import pytest
from conftest import noise_frames, shared_data, write_video

from deepfake.cli import main
from deepfake.evaluate import evaluate
from deepfake.predict import Detector, confident_mean, predict, write_predictions


@pytest.fixture
def checkpoint(tiny_checkpoint):
    return tiny_checkpoint


def test_temperature_scaling_fixes_overconfidence():
    import numpy as np
    from deepfake.evaluate import apply_temperature, fit_temperature
    from deepfake.metrics import log_loss
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 400)
    p = np.clip(np.where(y == 1, 0.7, 0.3) + rng.normal(0, 0.35, 400), 0.01, 0.99)  # overconfident scores
    t = fit_temperature(y, p)
    assert t > 1 and log_loss(y, apply_temperature(p, t)) < log_loss(y, p)


def test_calibration_fits_on_half_the_groups_and_needs_both_classes():
    import numpy as np
    from deepfake.evaluate import calibration
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 80)
    df = pd.DataFrame(dict(name=[f'v{i}' for i in range(80)], label=y,
                           fake_probability=np.clip(np.where(y == 1, 0.8, 0.2) + rng.normal(0, 0.3, 80), 0.01, 0.99)))
    groups = pd.Series([f'g{i // 2}' for i in range(80)], index=df.name)
    c = calibration(df, groups)
    assert c['temperature'] > 0 and c['fit_videos'] + c['held_videos'] == 80 and 'skipped' not in c
    assert 'skipped' in calibration(df.head(1), groups) and 'skipped' in calibration(df.head(2), groups)


def test_confident_mean():
    assert confident_mean([0.9] * 12 + [0.3] * 8) == pytest.approx(0.9)  # enough confident fakes win
    assert confident_mean([0.1] * 19 + [0.9]) == pytest.approx(0.1)  # nearly all confidently real
    assert confident_mean([0.4, 0.6, 0.9]) == pytest.approx(0.6333, abs=1e-3)  # otherwise the mean


def test_detector_uses_the_training_crops(checkpoint, demo_faces):
    detector = Detector(checkpoint)
    made = json.loads((demo_faces / 'preprocess.json').read_text())
    assert detector.extractor.settings() == {k: made[k] for k in detector.extractor.settings()}
    assert detector.frames == made['frames'] and (detector.video_len, detector.input_size) == (4, 32)


def test_predict_folder_with_bad_files(checkpoint, demo_videos, tmp_path):
    folder = tmp_path / 'in'
    folder.mkdir()
    for video in sorted(demo_videos.glob('*/*.mp4'))[:2]:
        (folder / video.name).write_bytes(video.read_bytes())
    (folder / 'corrupt.mp4').write_bytes(b'\x00' * 4000)
    write_video(folder / 'noface.mp4', noise_frames(12))
    results = {r.filename: r for r in predict(Detector(checkpoint, frames=6), [folder], progress=False)}
    assert len(results) == 4
    for name, status in [('corrupt.mp4', 'error'), ('noface.mp4', 'no_face')]:
        r = results[name]
        assert (r.status, r.fake_probability, r.label) == (status, None, None) and str(folder / name) in r.error
    assert 'no face' in results['noface.mp4'].error
    good = [r for r in results.values() if r.scored]
    assert len(good) == 2
    for r in good:
        assert 0.01 <= r.fake_probability <= 0.99 and r.faces >= 5 and len(r.per_frame) >= 4
        assert r.label in ('REAL', 'FAKE') and r.seconds > 0 and r.error is None
    out = write_predictions(list(results.values()), tmp_path / 'sub' / 'submission.csv')
    csv = pd.read_csv(out).set_index('filename')
    assert list(csv.columns) == ['label'] and len(csv) == 4 and csv.label['corrupt.mp4'] == 0.5  # the DFDC fallback
    details = {d['filename']: d for d in json.loads(out.with_suffix('.json').read_text())}
    assert {'status', 'fake_probability', 'per_frame', 'faces', 'frames', 'seconds', 'error'} <= set(details['noface.mp4'])
    assert details['corrupt.mp4']['status'] == 'error' and details['corrupt.mp4']['fake_probability'] is None


def test_aggregation_options_and_clip(checkpoint, demo_videos):
    video = sorted(demo_videos.glob('*/*.mp4'))[0]
    scores = {a: Detector(checkpoint, frames=6, aggregate=a, clip=None).predict_video(video).fake_probability
              for a in ('confident', 'mean', 'model')}
    assert all(0 < p < 1 for p in scores.values())
    with pytest.raises(ValueError, match='aggregate'):
        Detector(checkpoint, aggregate='max')


def test_evaluate_writes_the_report(checkpoint, demo_videos, tmp_path):
    overall = evaluate(Detector(checkpoint, frames=6), [demo_videos], tmp_path / 'report', calibrate=True,
                       progress=False)
    assert overall['videos'] == 12 and overall['fake'] == 6 and 0 <= overall['auc'] <= 1
    c = overall['calibration']  # 12 videos: too few to fit on half and judge on the other half
    assert 'needs 5 real and 5 fake' in c['skipped'] and c['fit_videos'] + c['held_videos'] == 12
    report = (tmp_path / 'report' / 'report.md').read_text()
    assert '## Calibration' in report and 'Not fitted' in report
    assert 'video AUC [95%]' in report and 'log loss [95%]' in report and 'Too few videos to trust:** only 6 real and 6 fake' in report
    for png in ['roc.png', 'reliability.png', 'scores.png', 'worst_faces.png']:
        assert (tmp_path / 'report' / png).stat().st_size > 1000 and f'({png})' in report
    assert (tmp_path / 'report' / 'predictions.csv').exists()


def test_cli_predict_and_evaluate(checkpoint, demo_videos, demo_faces, tmp_path, capsys):
    part = sorted(demo_videos.glob('dfdc_train_part_*'))[0]
    assert main(['predict', str(checkpoint), str(part), '--out', str(tmp_path / 's.csv'), '--frames', '4']) == 0
    assert 'wrote' in capsys.readouterr().out and len(pd.read_csv(tmp_path / 's.csv')) == 6
    assert main(['evaluate', str(checkpoint.parent), str(demo_videos), '--out', str(tmp_path / 'r'), '--frames', '4',
                 '--split_csv', str(demo_faces / 'videos_df.csv')]) == 0
    assert 'validation videos' in (tmp_path / 'r' / 'report.md').read_text()


def test_predict_real_dfdc_sample(checkpoint):
    "The 4 present DFDC videos get scores from their faces; the 3 absent ones are not predicted."
    results = predict(Detector(checkpoint, frames=8), [shared_data('dfdc_sample')], progress=False)
    assert sorted(r.name for r in results) == ['brtujopkby', 'lynaeydofd', 'widuwuoiur', 'yhffcuhhjy']
    assert all(r.faces >= 6 and r.scored for r in results)


def test_a_predicting_process_keeps_its_tensors_in_the_heap(checkpoint):
    """A warm prediction of a 1080p clip reuses glibc's heap (`MTCNN_HEAP`) instead of mapping fresh pages for
    MTCNN's and the model's tensors: about 350,000 page faults a clip under preprocessing's 1 MB mmap threshold."""
    import platform
    import resource
    if platform.libc_ver()[0] != 'glibc':
        pytest.skip('a setting of glibc, which this C library is not')
    clip = shared_data('dfdc_sample') / 'dfdc_train_part_0' / 'brtujopkby.mp4'
    detector = Detector(checkpoint, frames=32)
    detector.predict_video(clip)  # the first one grows the heap to its working size
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    assert detector.predict_video(clip).faces == 32
    assert resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults < 100_000


@pytest.mark.parametrize('heap, new_heaps', [('dict(MTCNN_HEAP, arenas=0)', 1), ('MTCNN_HEAP', 0)])
def test_a_predicting_process_keeps_its_threads_in_one_heap(heap, new_heaps, tmp_path):
    """`MTCNN_HEAP`'s `arenas=1`: a thread started later (the decoder's) allocates from a heap there is, where by
    default glibc gives it a heap (arena) of its own. Counted by `malloc_info` in a fresh process, since the setting
    is process-wide and cannot be undone."""
    import platform
    import subprocess
    import sys
    if platform.libc_ver()[0] != 'glibc':
        pytest.skip('a setting of glibc, which this C library is not')
    code = f"""import ctypes, threading, numpy as np
from deepfake.video_io import MTCNN_HEAP, set_heap
libc = ctypes.CDLL('libc.so.6')
libc.fopen.restype = ctypes.c_void_p
def report(name):
    out = ctypes.c_void_p(libc.fopen(str({str(tmp_path)!r} + '/' + name).encode(), b'w'))
    libc.malloc_info(0, out); libc.fclose(out)
set_heap(**{heap})
report('before.xml')
keep = []
thread = threading.Thread(target=lambda: keep.append(np.ones(1 << 18)))  # 2 MB from a thread: a heap's block
thread.start(); thread.join()
report('after.xml')
"""
    subprocess.run([sys.executable, '-c', code], check=True)
    heaps = [(tmp_path / name).read_text().count('<heap nr=') for name in ('before.xml', 'after.xml')]
    assert heaps[1] - heaps[0] == new_heaps


def test_explain_heat_maps(checkpoint, demo_videos, tmp_path):
    video = sorted(demo_videos.glob('*/*.mp4'))[0]
    result = Detector(checkpoint, frames=6, explain=True).predict_video(video)
    maps = result.heatmaps
    assert len(maps) == 4 and all(image.shape == (32, 32, 3) and image.dtype.name == 'uint8' for _, image in maps)
    from deepfake.predict import write_heatmaps
    written = sorted(p.name for p in write_heatmaps([result], tmp_path / 'maps').glob('*.jpg'))
    assert written[0].startswith(video.stem) and len(written) == len({f for f, _ in maps})


def test_predict_with_the_onnx_runtime(checkpoint, demo_videos, tmp_path, capsys):
    pytest.importorskip('onnxruntime')
    part = sorted(demo_videos.glob('dfdc_train_part_*'))[0]
    assert main(['predict', str(checkpoint), str(part), '--out', str(tmp_path / 'torch.csv'), '--frames', '4']) == 0
    assert main(['predict', str(checkpoint), str(part), '--out', str(tmp_path / 'onnx.csv'), '--frames', '4',
                 '--runtime', 'onnx']) == 0
    torch_scores, onnx_scores = pd.read_csv(tmp_path / 'torch.csv'), pd.read_csv(tmp_path / 'onnx.csv')
    assert (torch_scores.label - onnx_scores.label).abs().max() <= 1e-4
    assert main(['export', str(checkpoint), '--format', 'onnx', '--quantize', 'int8',
                 '--out', str(tmp_path / 'm.int8.onnx')]) == 0
    assert 'wrote' in capsys.readouterr().out and (tmp_path / 'm.int8.onnx.json').exists()

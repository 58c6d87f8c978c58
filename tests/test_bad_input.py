"""Bad input, as a user or a hostile file gives it: every case is one line and an exit code, never a traceback, and a
failure is never reported as an answer."""
import shutil

import numpy as np
import pandas as pd
import pytest
from conftest import face_frames, run_cli as run, write_video



@pytest.fixture
def clip(tmp_path):
    return write_video(tmp_path / 'clip.mp4', face_frames(6))


def test_preprocess_arguments_are_checked(capsys, clip, tmp_path):
    for bad in (['--frames', '-1'], ['--frames', '0'], ['--interval', '0'], ['--workers', '0'], ['--face_size', '4']):
        code, text = run(capsys, 'preprocess', clip, '--out', tmp_path / 'f', *bad)
        assert code == 2 and bad[0] in text
    assert not (tmp_path / 'f').exists()


def test_sources_with_nothing_or_broken_metadata(capsys, tmp_path):
    (tmp_path / 'empty').mkdir()
    code, text = run(capsys, 'preprocess', tmp_path / 'empty', '--out', tmp_path / 'f')
    assert code == 2 and 'no videos found' in text and 'metadata.json' in text
    part = tmp_path / 'dfdc' / 'dfdc_train_part_0'
    part.mkdir(parents=True)
    (part / 'metadata.json').write_text('{"a.mp4": {"label": "FAKE"')
    code, text = run(capsys, 'preprocess', tmp_path / 'dfdc', '--out', tmp_path / 'f')
    assert code == 2 and str(part / 'metadata.json') in text and 'not valid JSON' in text
    (part / 'metadata.json').write_text('{"a.mp4": "FAKE", "b.mp4": {"label": "maybe"}}')
    code, text = run(capsys, 'preprocess', tmp_path / 'dfdc', '--out', tmp_path / 'f')
    assert code == 1 and "entry 'a.mp4': expected an object" in text and "label 'maybe'" in text


def test_preprocess_out_is_a_file_and_tiny_frames(capsys, clip, tmp_path):
    (tmp_path / 'file').write_text('mine')
    code, text = run(capsys, 'preprocess', clip, '--out', tmp_path / 'file')
    assert code == 2 and 'not a folder' in text and (tmp_path / 'file').read_text() == 'mine'
    tiny = write_video(tmp_path / 'tiny.mp4', np.zeros((4, 2, 2, 3), np.uint8))
    code, text = run(capsys, 'preprocess', tiny, '--out', tmp_path / 'f')
    assert code == 1 and 'too small to hold a face' in text


def test_training_that_cannot_mean_anything(capsys, demo_faces, tmp_path, monkeypatch):
    (tmp_path / 'empty').mkdir()
    code, text = run(capsys, 'train', '--root_dir', tmp_path / 'empty', '--save_model_path', tmp_path)
    assert code == 2 and 'deepfake split' in text
    one_class = tmp_path / 'one'
    shutil.copytree(demo_faces, one_class)
    split = pd.read_csv(one_class / 'videos_df.csv')
    split[split.label == 'REAL'].to_csv(one_class / 'videos_df.csv', index=False)
    code, text = run(capsys, 'train', '--root_dir', one_class, '--save_model_path', tmp_path)
    assert code == 2 and 'needs REAL and FAKE' in text
    for bad in (['--epochs', '0'], ['--lr', '0'], ['--batch_size', '0'], ['--clips_per_video', 'some']):
        code, text = run(capsys, 'train', '--root_dir', demo_faces, *bad)
        assert code == 2 and bad[0] in text
    code, text = run(capsys, 'split', demo_faces, '--valid_frac', '0')
    assert code == 2 and 'between 0 and 1' in text
    monkeypatch.chdir(tmp_path)
    (tmp_path / 'mlruns').write_text('not a folder')
    code, text = run(capsys, 'train', '--root_dir', demo_faces, '--save_model_path', tmp_path, '--tracking', 'mlflow',
                     '--epochs', '1', '--workers', '0', '--input_size', '32', '--video_len', '2')
    assert code == 2 and 'is a file' in text and not (tmp_path / 'mlruns_').exists()  # refused before training


def test_predict_says_error_and_exits_1_when_nothing_was_scored(capsys, tiny_checkpoint, tmp_path):
    (tmp_path / 'bad1.mp4').write_bytes(b'\x00' * 500)
    (tmp_path / 'bad2.mp4').write_text('not a video')
    code, text = run(capsys, 'predict', tiny_checkpoint, tmp_path / 'bad1.mp4', tmp_path / 'bad2.mp4',
                     '--out', tmp_path / 's.csv')
    assert code == 1 and 'bad1.mp4: error (' in text and '2 of 2 videos could not be scored' in text
    assert 'REAL' not in text and 'FAKE' not in text
    assert pd.read_csv(tmp_path / 's.csv').label.tolist() == [0.5, 0.5]  # the submission keeps the DFDC fallback


def test_stale_onnx_export_is_rebuilt(capsys, tiny_checkpoint, demo_videos, tmp_path):
    "A retrained checkpoint makes its ONNX export stale, also in a copied folder (its export names the original)."
    first, exp = tmp_path / 'first', tmp_path / 'exp'
    shutil.copytree(tiny_checkpoint.parent, first)
    video = sorted(demo_videos.glob('*/*.mp4'))[0]
    assert run(capsys, 'predict', first, video, '--runtime', 'onnx', '--out', tmp_path / 'a.csv', '--frames', '4')[0] == 0
    shutil.copytree(first, exp)
    import torch
    from deepfake.checkpoints import checkpoint_file
    chosen = checkpoint_file(exp)  # the epoch the folder means
    ckpt = torch.load(chosen, weights_only=True)
    ckpt['model'] = {k: v * 0.5 if v.is_floating_point() else v for k, v in ckpt['model'].items()}
    chosen.unlink()
    torch.save(ckpt, chosen)  # retrained: a new checkpoint
    code, text = run(capsys, 'predict', exp, video, '--runtime', 'onnx', '--out', tmp_path / 'b.csv', '--frames', '4')
    assert code == 0 and 'exporting it again' in text
    assert run(capsys, 'predict', exp, video, '--out', tmp_path / 'c.csv', '--frames', '4')[0] == 0
    assert abs(pd.read_csv(tmp_path / 'b.csv').label[0] - pd.read_csv(tmp_path / 'c.csv').label[0]) < 1e-4


def test_evaluate_subsets_and_bad_split_files(capsys, tiny_checkpoint, demo_videos, demo_faces, tmp_path):
    split = pd.read_csv(demo_faces / 'videos_df.csv')
    split.assign(is_valid=split.is_valid.astype(int)).to_csv(tmp_path / 'numbers.csv', index=False)
    code, text = run(capsys, 'evaluate', tiny_checkpoint, demo_videos, '--split_csv', tmp_path / 'numbers.csv',
                     '--out', tmp_path / 'r', '--frames', '4')
    assert code == 0 and f'videos={int(split.is_valid.sum())}' in text  # 0/1 read as booleans: the held-out videos
    split.assign(is_valid='maybe').to_csv(tmp_path / 'bad.csv', index=False)
    code, text = run(capsys, 'evaluate', tiny_checkpoint, demo_videos, '--split_csv', tmp_path / 'bad.csv', '--out',
                     tmp_path / 'r')
    assert code == 2 and 'bad.csv: line 2' in text
    split.assign(name='other_' + split.name.astype(str)).to_csv(tmp_path / 'none.csv', index=False)
    code, text = run(capsys, 'evaluate', tiny_checkpoint, demo_videos, '--split_csv', tmp_path / 'none.csv', '--out',
                     tmp_path / 'r')
    assert code == 2 and 'none of its' in text
    (tmp_path / 'empty').mkdir()
    code, text = run(capsys, 'evaluate', tiny_checkpoint, tmp_path / 'empty', '--out', tmp_path / 'r')
    assert code == 2 and 'no videos found' in text


def test_per_method_table_counts_each_real_once(capsys, tiny_checkpoint, demo_videos, tmp_path):
    "On real/ + fake/ folders the per-method row is the fakes plus every real video, each once."
    for label, videos in [('real', sorted(demo_videos.glob('*/*.mp4'))[:3]), ('fake', sorted(demo_videos.glob('*/*.mp4'))[3:7])]:
        (tmp_path / 'src' / label).mkdir(parents=True)
        for v in videos:
            shutil.copy(v, tmp_path / 'src' / label / v.name)
    assert run(capsys, 'evaluate', tiny_checkpoint, tmp_path / 'src', '--out', tmp_path / 'r', '--frames', '4')[0] == 0
    report = (tmp_path / 'r' / 'report.md').read_text()
    row = next(line for line in report.splitlines() if line.startswith('| folders'))
    assert row.split('|')[2].strip() == '7'  # 4 fakes + 3 reals
    assert 'nan' not in report


def test_bad_checkpoints_and_exports(capsys, tiny_checkpoint, demo_videos, tmp_path):
    video = sorted(demo_videos.glob('*/*.mp4'))[0]
    (tmp_path / 'broken.pth').write_bytes(b'PK\x03\x04 not really')
    code, text = run(capsys, 'predict', tmp_path / 'broken.pth', video)
    assert code == 2 and 'not a readable checkpoint' in text
    assert run(capsys, 'export', tiny_checkpoint, '--format', 'torchscript', '--out', tmp_path / 'm.torchscript.pt')[0] == 0
    code, text = run(capsys, 'predict', tmp_path / 'm.torchscript.pt', video, '--out', tmp_path / 's.csv', '--frames', '4')
    assert code == 0 and 'wrote' in text
    code, text = run(capsys, 'train', '--root_dir', tmp_path, '--resume', tmp_path / 'broken.pth')
    assert code == 2 and 'not a readable checkpoint' in text


def test_mlflow_store_that_is_not_sqlite_and_offline_pretrained(capsys, demo_faces, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / 'mlruns').mkdir()
    (tmp_path / 'mlruns' / 'mlflow.db').write_text('not a database')
    common = ['--root_dir', demo_faces, '--save_model_path', tmp_path, '--epochs', '1', '--workers', '0',
              '--input_size', '32', '--video_len', '2']
    code, text = run(capsys, 'train', *common, '--tracking', 'mlflow', '--exp_name', 'a')
    assert code == 2 and 'not an SQLite database' in text
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch'))  # an empty weights cache, and no network
    monkeypatch.setenv('HF_HUB_OFFLINE', '1')
    code, text = run(capsys, 'train', *common, '--model_name', 'xception', '--pretrained', '--exp_name', 'b')
    assert code == 2 and 'no pretrained weights for legacy_xception' in text


def test_weights_install_replaces_a_damaged_file(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv('TORCH_HOME', str(tmp_path))
    assert run(capsys, 'weights', 'install')[0] == 0
    files = sorted(p for p in (tmp_path / 'hub' / 'checkpoints').iterdir() if p.suffix == '.pth')
    for f in files:
        f.write_bytes(f.read_bytes()[:1000])  # truncated copies
    code, text = run(capsys, 'weights', 'install')
    assert code == 0 and all(f.stat().st_size > 1_000_000 for f in files)

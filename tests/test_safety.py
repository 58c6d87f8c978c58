"""The hostile suite: names from data never reach outside the folders given, a command deletes only what it made,
nothing is replaced without being asked, and concurrent runs neither race nor orphan processes."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import psutil
import pytest
from conftest import face_frames, write_video
from hypothesis import given, settings, strategies as st

from deepfake.cli import main
from deepfake.files import TMP_PREFIX, UnsafeName, check_name
from deepfake.preprocess import preprocess
from deepfake.sources import read_source, read_sources

ROOT = Path(__file__).resolve().parents[1]
DEEPFAKE = [sys.executable, '-c', 'import sys; from deepfake.cli import main; sys.exit(main())']


@pytest.fixture(scope='module')
def clip(tmp_path_factory):
    "One small video with a face."
    return write_video(tmp_path_factory.mktemp('clip') / 'face.mp4', face_frames(6))


def sentinels(*folders):
    "A file of the user's in each folder, to check that it survives."
    files = []
    for folder in folders:
        folder.mkdir(parents=True, exist_ok=True)
        files.append(folder / 'mine.txt')
        files[-1].write_text('keep')
    return files


def test_dot_named_videos_delete_nothing(clip, tmp_path, capsys):
    "`..mp4` once deleted --out, `...mp4` the folder above it: now both are error rows and nothing is lost."
    src, out = tmp_path / 'work' / 'src', tmp_path / 'work' / 'out'
    for name in ['..mp4', '...mp4', 'good.mp4']:
        (src / 'real').mkdir(parents=True, exist_ok=True)
        (src / 'real' / name).write_bytes(clip.read_bytes())
    kept = sentinels(out, out.parent, tmp_path)
    assert main(['preprocess', str(src), '--out', str(out), '--frames', '2']) == 0
    assert all(f.read_text() == 'keep' for f in kept)
    index = pd.read_csv(out / 'index.csv', dtype={'name': str}, keep_default_na=False).set_index('name')
    assert index.status.to_dict() == {'..': 'error', '.': 'error', 'good': 'ok'}
    assert 'unsafe video name' in index.error['.'] and 'unsafe video name' in capsys.readouterr().out
    assert sorted(p.name for p in out.iterdir()) == ['.index.lock', 'clips', 'crops', 'index.csv', 'mine.txt',
                                                     'preprocess.json', 'rows']


def test_metadata_keys_and_symlinks_stay_inside_the_root(clip, tmp_path):
    "A DFDC key that climbs out or is absolute, and a symlink to a file outside, are refused, not read."
    root, secret = tmp_path / 'dfdc', tmp_path / 'secret'
    secret.mkdir()
    (secret / 'outside.mp4').write_bytes(clip.read_bytes())
    part = root / 'dfdc_train_part_0'
    part.mkdir(parents=True)
    (part / 'inside.mp4').write_bytes(clip.read_bytes())
    (part / 'link.mp4').symlink_to(secret / 'outside.mp4')
    meta = {'inside.mp4': {'label': 'REAL'}, '../../secret/outside.mp4': {'label': 'FAKE'},
            str(secret / 'outside.mp4'): {'label': 'FAKE'}, 'link.mp4': {'label': 'FAKE'}}
    (part / 'metadata.json').write_text(json.dumps(meta))
    table = read_source(root)
    by_status = table.groupby('status').name.apply(sorted).to_dict()
    assert by_status == {'': ['inside'], 'error': ['link', 'outside', 'outside']}  # the link's name is fine, its target not
    assert all('unsafe file name' in e or 'unsafe video path' in e for e in table.error.dropna())
    folders = tmp_path / 'folders' / 'fake'
    folders.mkdir(parents=True)
    (folders / 'link.mp4').symlink_to(secret / 'outside.mp4')
    assert 'outside' in read_source(tmp_path / 'folders').error[0]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(alphabet=st.sampled_from(list('.a- é')), min_size=1, max_size=5), min_size=1, max_size=4,
                unique=True))
def test_any_file_name_is_a_safe_name_or_an_error_row(tmp_path_factory, stems):
    "Whatever the file names on disk, each row's name is safe to join to --out, or the row is an error."
    real = tmp_path_factory.mktemp('names') / 'real'
    real.mkdir()
    for stem in stems:
        (real / f'{stem}.mp4').write_bytes(b'')
    for row in read_source(real.parent).to_dict('records'):
        if row['status'] != 'error':
            assert (Path('/out') / check_name(row['name'])).parent == Path('/out')
        else:
            with pytest.raises(UnsafeName):
                check_name(row['name'])


def test_a_restart_removes_only_its_own_leftovers(clip, tmp_path):
    "A killed run's private folder goes; the user's files in --out, and in a video's crops folder, stay."
    src, out = tmp_path / 'src', tmp_path / 'out'
    src.mkdir()
    (src / 'a.mp4').write_bytes(clip.read_bytes())
    index = preprocess(read_sources([src]), out, frames=4, face_size=32, progress=False)
    assert index.status.tolist() == ['ok']
    dead = out / '.tmp' / 'run-0123456789ab'  # what a kill -9 mid-video leaves
    (dead / 'tmpxyz' / 'crops').mkdir(parents=True)
    (out / 'rows' / 'a.json').unlink()  # so the video is done again
    kept = sentinels(out, out / 'crops' / 'a', out / '.tmp')
    preprocess(read_sources([src]), out, frames=4, face_size=32, progress=False)
    assert not dead.exists() and all(f.read_text() == 'keep' for f in kept)
    assert sorted(p.name for p in (out / 'crops' / 'a').iterdir())[-1] == 'mine.txt'


def test_two_shards_at_once_give_one_complete_index(clip, tmp_path):
    "Two processes, shards 0/2 and 1/2 into one --out: whichever finishes last writes every row."
    src, out = tmp_path / 'src', tmp_path / 'out'
    src.mkdir()
    for k in range(6):
        (src / f'v{k}.mp4').write_bytes(clip.read_bytes())
    runs = [subprocess.Popen([*DEEPFAKE, 'preprocess', str(src), '--out', str(out), '--frames', '2', '--shard',
                              f'{i}/2'], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            for i in range(2)]
    assert [r.wait(timeout=300) for r in runs] == [0, 0], [r.stderr.read()[-2000:] for r in runs]
    index = pd.read_csv(out / 'index.csv')
    assert index.status.tolist() == ['ok'] * 6 and len(list((out / 'clips').glob('*.landmarks.npy'))) == 6


def test_kill_9_leaves_no_orphan_workers(tmp_path):
    "Workers and their detector die with their parent: a kill -9 of `preprocess --workers 2` mid-video leaves none."
    src = tmp_path / 'src'
    long = write_video(src / 'v0.mp4', face_frames(300))  # about 10 s of detection on every frame
    for k in range(1, 4):
        (src / f'v{k}.mp4').write_bytes(long.read_bytes())
    run = subprocess.Popen([*DEEPFAKE, 'preprocess', str(src), '--out', str(tmp_path / 'out'), '--workers', '2',
                            '--frames', '300', '--detect_every', '1'], cwd=ROOT, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    parent, out = psutil.Process(run.pid), tmp_path / 'out'
    deadline = time.time() + 120
    while not list(out.glob('.tmp/run-*/tmp*')) and time.time() < deadline:  # a worker has begun a video
        time.sleep(0.2)
    spawned = [p for p in parent.children(recursive=True) if 'spawn_main' in ' '.join(p.cmdline())]
    assert len(spawned) == 3, 'the 2 workers and their detector process did not start'
    time.sleep(1)
    os.kill(run.pid, signal.SIGKILL)
    run.wait()
    time.sleep(3)
    alive = [p for p in spawned if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    for p in alive:
        p.kill()
    assert not alive, f'orphans: {alive}'


TINY = ['--epochs', '1', '--batch_size', '4', '--workers', '0', '--input_size', '32', '--video_len', '4',
        '--hidden_size', '16', '--embed_dim', '32', '--log_interval', '0']


def train_cli(faces, out, *extra):
    "`python train.py ...` in this process (no start-up cost): its exit code."
    from deepfake.args import parse_args
    from deepfake.cli import guarded, run_train
    return guarded('train.py', run_train, parse_args(['--root_dir', str(faces), '--save_model_path', str(out),
                                                      '--exp_name', 'same', *TINY, *extra]))


def test_a_reused_experiment_name_is_refused(demo_faces, tmp_path, capsys):
    "A second run with one --exp_name is refused and the first run's files survive; --overwrite replaces them."
    assert train_cli(demo_faces, tmp_path) == 0
    exp = tmp_path / 'same'
    (exp / '.tmp-1234-last.pth').write_bytes(b'half')  # what a run killed mid-write leaves
    before = {p.name: p.read_bytes() for p in exp.iterdir() if p.name not in ('.lock', '.tmp-1234-last.pth')}
    (exp / 'notes.md').write_text('mine')
    capsys.readouterr()
    assert train_cli(demo_faces, tmp_path, '--epochs', '2') == 2
    err = capsys.readouterr().err
    assert 'holds an earlier run' in err and '--overwrite' in err and 'Traceback' not in err
    assert {n: (exp / n).read_bytes() for n in before} == before and not (exp / '.tmp-1234-last.pth').exists()
    assert train_cli(demo_faces, tmp_path, '--overwrite', '--epochs', '2') == 0
    assert pd.read_csv(exp / 'metrics.csv').epoch.tolist() == [1, 2] and (exp / 'notes.md').read_text() == 'mine'


def test_a_running_experiment_cannot_be_shared(demo_faces, tmp_path, capsys):
    "While another process holds the experiment folder, a second run with the same name fails at once."
    holder = subprocess.Popen([sys.executable, '-c', 'import sys, time; from deepfake.files import claim_folder; '
                               f'lock = claim_folder({str(tmp_path / "same")!r}); print("held", flush=True); time.sleep(60)'],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == 'held'
        assert train_cli(demo_faces, tmp_path) == 2
        assert 'in use by another run' in capsys.readouterr().err
    finally:
        holder.kill()
    assert sorted(p.name for p in (tmp_path / 'same').iterdir()) == ['.lock']


def test_export_never_writes_over_a_checkpoint(tiny_checkpoint, tmp_path, capsys):
    "`export --out EXP/best.pth` (hard-linked to last.pth and epoch_NNN.pth), a folder, or a foreign file: refused."
    exp = tiny_checkpoint.parent
    digest = {p.name: p.read_bytes() for p in exp.glob('*.pth')}
    foreign = tmp_path / 'report.onnx'
    foreign.write_text('not an export')
    for out in [exp / 'best.pth', exp / 'last.pth', exp, foreign]:
        assert main(['export', str(exp), '--out', str(out)]) == 2
        assert str(out) in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in exp.glob('*.pth')} == digest and foreign.read_text() == 'not an export'


def test_a_failed_export_leaves_nothing(tiny_checkpoint, tmp_path, monkeypatch):
    "A disk-full failure mid-export leaves no half-written model and no temporary file."
    import deepfake.export as export

    def disk_full(module, example, path, opset=17):
        Path(path).write_bytes(b'half')
        raise OSError(28, 'No space left on device')
    monkeypatch.setattr(export, 'onnx_export', disk_full)
    with pytest.raises(OSError):
        export.export_model(tiny_checkpoint, out=tmp_path / 'model.onnx')
    assert list(tmp_path.iterdir()) == []


def test_split_keeps_a_hand_edited_csv(demo_faces, tmp_path, capsys):
    "`deepfake split` replaces its own CSV, but not one edited by hand or not written by it, unless --force."
    faces = tmp_path / 'faces'
    faces.mkdir()
    (faces / 'index.csv').write_bytes((demo_faces / 'index.csv').read_bytes())
    assert main(['split', str(faces)]) == 0 and main(['split', str(faces), '--seed', '1']) == 0
    csv = faces / 'videos_df.csv'
    csv.write_text(csv.read_text().replace('FAKE', 'REAL', 1))
    edited = csv.read_text()
    assert main(['split', str(faces)]) == 2 and csv.read_text() == edited
    assert 'edited' in capsys.readouterr().err
    assert main(['split', str(faces), '--force']) == 0 and csv.read_text() != edited

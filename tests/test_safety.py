"""The hostile suite: names from data never reach outside the folders given, a command deletes only what it made,
nothing is replaced without being asked, and concurrent runs neither race nor orphan processes."""
import contextlib
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import psutil
import pytest
from conftest import face_frames, run_cli as run, write_video
from hypothesis import given, settings, strategies as st

from deepfake.cli import main
from deepfake.files import UnsafeName, check_name
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
    assert sorted(p.name for p in out.iterdir()) == ['.deepfake-files.json', '.index.lock', 'clips', 'crops', 'index.csv', 'mine.txt',
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
    # an unsafe key names its own error row; the link's name is fine, its target not
    assert by_status == {'': ['inside'], 'error': sorted(['../../secret/outside.mp4', str(secret / 'outside.mp4'), 'link'])}
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
    dead = out / '.tmp' / 'run-0123456789ab'  # what a kill -9 mid-video leaves: the folder and its lock file
    (dead / 'tmpxyz' / 'crops').mkdir(parents=True)
    (out / '.tmp' / 'run-0123456789ab.lock').write_bytes(b'')
    (out / 'rows' / 'a.json').unlink()  # so the video is done again
    kept = sentinels(out, out / 'crops' / 'a', out / '.tmp')
    preprocess(read_sources([src]), out, frames=4, face_size=32, progress=False)
    assert not dead.exists() and all(f.read_text() == 'keep' for f in kept)
    assert sorted(p.name for p in (out / 'crops' / 'a').iterdir())[-1] == 'mine.txt'


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
    (exp / '.tmp-0123abcd-last.pth').write_bytes(b'half')  # what a run killed mid-write leaves
    before = {p.name: p.read_bytes() for p in exp.iterdir() if p.name not in ('.lock', '.tmp-0123abcd-last.pth')}
    (exp / 'notes.md').write_text('mine')
    capsys.readouterr()
    assert train_cli(demo_faces, tmp_path, '--epochs', '2') == 2
    err = capsys.readouterr().err
    assert 'holds an earlier run' in err and '--overwrite' in err and 'Traceback' not in err
    assert {n: (exp / n).read_bytes() for n in before} == before and not (exp / '.tmp-0123abcd-last.pth').exists()
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


# The second hostile pass (issue 32): each door it found, one test. A command that refuses says one line, exits 2,
# and changes nothing outside what it was given; nothing the user made is deleted or replaced.

def snapshot(folder):
    "{relative path: bytes or link target} of everything under `folder`, links not followed."
    folder = Path(folder)
    return {str(p.relative_to(folder)): (os.readlink(p) if p.is_symlink() else p.read_bytes() if p.is_file() else None)
            for p in sorted(folder.rglob('*'))}


def refused(code, text, *words):
    "A refusal: exit code 2 and one line naming `words`."
    lines = [l for l in text.splitlines() if l.strip()]
    assert code == 2 and len(lines) == 1 and all(w in text for w in words), (code, text)


def train_here(faces, out, *extra):
    "`python train.py` (one tiny epoch) into `out`, in this process: its exit code."
    from deepfake.args import parse_args
    from deepfake.cli import guarded, run_train
    try:
        args = parse_args(['--root_dir', str(faces), '--save_model_path', str(out), *TINY, *map(str, extra)])
    except SystemExit as e:
        return e.code
    return guarded('train.py', run_train, args)


def test_names_from_recipes_and_flags_are_checked_like_names_from_data(demo_faces, tmp_path, capsys):
    "`exp_name: ../victim` in a recipe, or as a flag, with --overwrite, is refused before anything is read or deleted."
    victim = tmp_path / 'victim'
    victim.mkdir()
    for name in ('metrics.csv', 'args.json', 'model.onnx'):
        (victim / name).write_text('mine')
    recipe = tmp_path / 'evil.yaml'
    recipe.write_text('exp_name: ../victim\noverwrite: true\n')
    before = snapshot(tmp_path)
    assert train_here(demo_faces, tmp_path / 'runs', '-c', recipe) == 2
    assert train_here(demo_faces, tmp_path / 'runs', '--exp_name', '../victim', '--overwrite') == 2
    assert 'unsafe name' in capsys.readouterr().err
    assert snapshot(tmp_path) == before


def test_overwrite_removes_only_what_the_run_and_its_exports_wrote(demo_faces, tmp_path, capsys):
    "--overwrite deletes the earlier run's files (the manifest proves them) and keeps a deploy.onnx of the user's."
    assert train_here(demo_faces, tmp_path, '--exp_name', 'same') == 0
    exp = tmp_path / 'same'
    assert run(capsys, 'export', exp, '--out', exp / 'mine.onnx')[0] == 0
    (exp / 'deploy.onnx').write_bytes(b'the user\'s model, no sidecar')
    assert train_here(demo_faces, tmp_path, '--exp_name', 'same', '--overwrite') == 0
    assert (exp / 'deploy.onnx').read_bytes() == b'the user\'s model, no sidecar'
    assert not (exp / 'mine.onnx').exists() and not (exp / 'mine.onnx.json').exists()
    (exp / 'metrics.csv').write_text('edited by hand')  # no longer what the run wrote: kept, and the run refused
    capsys.readouterr()
    assert train_here(demo_faces, tmp_path, '--exp_name', 'same', '--overwrite') == 2
    assert 'metrics.csv' in capsys.readouterr().err and (exp / 'metrics.csv').read_text() == 'edited by hand'


def test_preprocess_never_adopts_or_removes_a_folder_it_did_not_make(clip, tmp_path):
    "A user's folder in OUT/.tmp (even one named run-...) stays; a killed run's folder, with its lock file, goes."
    src, out = tmp_path / 'src', tmp_path / 'out'
    src.mkdir()
    (src / 'a.mp4').write_bytes(clip.read_bytes())
    kept = sentinels(out / '.tmp' / 'run-backups', out / '.tmp' / 'run-0123456789abc')
    dead = out / '.tmp' / 'run-0123456789ab'
    dead.mkdir(parents=True)
    (out / '.tmp' / 'run-0123456789ab.lock').write_bytes(b'')
    assert preprocess(read_sources([src]), out, frames=2, face_size=32, progress=False).status.tolist() == ['ok']
    assert all(f.read_text() == 'keep' for f in kept) and not dead.exists()


def test_a_planted_link_in_the_faces_folder_is_not_written_through(clip, tmp_path):
    "FACES/crops/<name> linking outside: the video is an error row, nothing outside is deleted or written."
    src, out, outside = tmp_path / 'src', tmp_path / 'out', tmp_path / 'outside'
    src.mkdir()
    (src / 'a.mp4').write_bytes(clip.read_bytes())
    sentinels(outside)
    (outside / '0_00000.jpg').write_bytes(b'looks like a crop')
    (out / 'crops').mkdir(parents=True)
    (out / 'crops' / 'a').symlink_to(outside)
    before = snapshot(outside)
    with pytest.raises(ValueError, match='no faces folder of ours'):  # a new folder whose crops/ holds anything
        preprocess(read_sources([src]), out, frames=2, face_size=32, progress=False)
    assert sorted(p.name for p in out.iterdir()) == ['crops']
    (src / 'a.mp4').rename(tmp_path / 'a.mp4')
    (src / 'b.mp4').write_bytes(clip.read_bytes())
    (out / 'crops' / 'a').unlink()
    preprocess(read_sources([src]), out, frames=2, face_size=32, progress=False)  # a faces folder of ours now
    (tmp_path / 'a.mp4').rename(src / 'a.mp4')
    (out / 'crops' / 'a').symlink_to(outside)  # planted in it
    index = preprocess(read_sources([src]), out, frames=2, face_size=32, progress=False).set_index('name')
    assert index.status['a'] == 'error' and 'symbolic link' in index.error['a']
    assert snapshot(outside) == before


def test_source_folders_that_link_out_of_the_root_are_refused(clip, tmp_path, capsys):
    "A DFDC part or an FF++ method folder that is a symlink to elsewhere is refused with one line, not read."
    elsewhere = tmp_path / 'elsewhere'
    elsewhere.mkdir()
    (elsewhere / 'x.mp4').write_bytes(clip.read_bytes())
    (elsewhere / 'metadata.json').write_text(json.dumps({'x.mp4': {'label': 'REAL'}}))
    dfdc = tmp_path / 'dfdc'
    dfdc.mkdir()
    (dfdc / 'dfdc_train_part_0').symlink_to(elsewhere)
    ffpp = tmp_path / 'ffpp' / 'manipulated_sequences'
    ffpp.mkdir(parents=True)
    (ffpp / 'Deepfakes').symlink_to(tmp_path / 'ffpp_elsewhere')
    (tmp_path / 'ffpp_elsewhere' / 'c23' / 'videos').mkdir(parents=True)
    (tmp_path / 'ffpp_elsewhere' / 'c23' / 'videos' / '000_003.mp4').write_bytes(clip.read_bytes())
    folders = tmp_path / 'folders'
    folders.mkdir()
    (folders / 'real').symlink_to(elsewhere)
    for root in (dfdc, tmp_path / 'ffpp', folders):
        code, text = run(capsys, 'preprocess', root, '--out', tmp_path / 'faces')
        refused(code, text, 'symbolic link', 'outside')
    assert not (tmp_path / 'faces').exists()


@pytest.mark.parametrize('target', ['index.csv', 'preprocess.json', 'videos_df.csv', 'args.json', 'r.json',
                                    'mine.csv', 'folder'])
def test_predict_out_never_replaces_a_file_it_did_not_write(tiny_checkpoint, demo_faces, clip, tmp_path, capsys, target):
    "`predict --out` naming a faces folder's or a run's own file, a .json, or a CSV of the user's: refused up front."
    folder = tmp_path / 'work'
    folder.mkdir()
    for name in ('index.csv', 'preprocess.json', 'videos_df.csv'):
        (folder / name).write_bytes((demo_faces / name).read_bytes())
    (folder / 'args.json').write_bytes((tiny_checkpoint.parent / 'args.json').read_bytes())
    (folder / 'mine.csv').write_text('mine')
    (folder / 'r.csv').write_text('mine too')
    (folder / 'folder').mkdir()
    before = snapshot(folder)
    code, text = run(capsys, 'predict', tiny_checkpoint, clip, '--out', folder / target)
    refused(code, text, str(folder / target))
    assert snapshot(folder) == before
    code, text = run(capsys, 'predict', tiny_checkpoint, clip, '--out', tmp_path / 'sub.csv')
    assert code == 0 and run(capsys, 'predict', tiny_checkpoint, clip, '--out', tmp_path / 'sub.csv')[0] == 0


def test_demo_data_keeps_a_metadata_file_it_did_not_write(tmp_path, capsys):
    "demo-data into a folder holding the user's metadata.json: refused, nothing written; its own files it replaces."
    part = tmp_path / 'dfdc_train_part_0'
    part.mkdir()
    (part / 'metadata.json').write_text('{"mine.mp4": {"label": "REAL"}}')
    before = snapshot(tmp_path)
    refused(*run(capsys, 'demo-data', tmp_path), 'metadata.json')
    assert snapshot(tmp_path) == before
    assert run(capsys, 'demo-data', tmp_path / 'demo')[0] == 0 and run(capsys, 'demo-data', tmp_path / 'demo')[0] == 0


def test_a_second_crossval_of_one_name_needs_resume_or_overwrite(demo_faces, tmp_path, capsys):
    "Its results are never replaced silently: the second run is refused; --resume keeps the folds, --overwrite redoes."
    faces = tmp_path / 'faces'
    shutil.copytree(demo_faces, faces)
    from deepfake.split import write_split
    write_split(faces / 'index.csv', faces / 'videos_df.csv', folds=2, force=True)
    cv = ['crossval', '--root_dir', faces, '--save_model_path', tmp_path / 'cv', '--exp_name', 'twice', *TINY]
    assert run(capsys, *cv)[0] == 0
    first = snapshot(tmp_path / 'cv' / 'twice')
    refused(*run(capsys, *cv, '--epochs', '2'), 'holds an earlier cross-validation', '--resume', '--overwrite')
    assert snapshot(tmp_path / 'cv' / 'twice') == first
    code, text = run(capsys, *cv, '--resume')
    assert code == 0 and 'fold 0' not in text  # both folds kept
    refused(*run(capsys, *cv, '--resume', '--epochs', '2', '--lr', '0.01'), 'trained with other options')
    code, text = run(capsys, *cv, '--overwrite')
    assert code == 0 and 'fold 0' in text and 'fold 1' in text


def test_crossval_never_takes_over_a_training_run_of_its_name(demo_faces, tmp_path, capsys):
    "crossval's default name is the recipe's, often a train run's too: that folder is refused even with --overwrite."
    faces = tmp_path / 'faces'
    shutil.copytree(demo_faces, faces)
    from deepfake.split import write_split
    write_split(faces / 'index.csv', faces / 'videos_df.csv', folds=2, force=True)
    capsys.readouterr()  # the split's table
    run_dir = tmp_path / 'ck' / 'same'
    run_dir.mkdir(parents=True)
    (run_dir / 'args.json').write_text('{}')
    (run_dir / 'epoch_001.pth').write_bytes(b'mine')
    before = snapshot(run_dir)
    cv = ['crossval', '--root_dir', faces, '--save_model_path', tmp_path / 'ck', '--exp_name', 'same', *TINY]
    for flag in ([], ['--resume'], ['--overwrite']):
        refused(*run(capsys, *cv, *flag), 'no cross-validation writes', 'args.json', '--exp_name')
        assert snapshot(run_dir) == before


def test_another_source_in_one_faces_folder(clip, tmp_path, capsys):
    "Source B into A's faces folder: refused unless --add; a name of B that A holds from another file is refused."
    a, b, faces = tmp_path / 'a', tmp_path / 'b', tmp_path / 'faces'
    for src, names in ((a, ['x', 'y', 'z']), (b, ['x', 'w'])):
        for n in names:
            write_video(src / ('real' if src == a else 'fake') / f'{n}.mp4', face_frames(4))
    assert run(capsys, 'preprocess', a, '--out', faces, '--frames', '2')[0] == 0
    before = snapshot(faces)
    refused(*run(capsys, 'preprocess', b, '--out', faces, '--frames', '2'), str(b.resolve()), '--add')
    refused(*run(capsys, 'preprocess', b, '--out', faces, '--frames', '2', '--add'), 'x', 'taken')
    assert snapshot(faces) == before
    (b / 'fake' / 'x.mp4').unlink()
    assert run(capsys, 'preprocess', b, '--out', faces, '--frames', '2', '--add')[0] == 0
    index = pd.read_csv(faces / 'index.csv').set_index('name')
    assert sorted(index.index) == ['w', 'x', 'y', 'z'] and index.label.to_dict()['x'] == 'REAL'
    code, text = run(capsys, 'preprocess', a, '--out', faces, '--frames', '2')  # A again: nothing drops out
    assert code == 0 and '3 videos were done already and skipped' in text
    assert sorted(pd.read_csv(faces / 'index.csv').name) == ['w', 'x', 'y', 'z']


def limited(code, size):
    "Run python `code` in a subprocess whose files may not grow beyond `size` bytes (a full disk, as writes see it)."
    import resource

    def limit():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG instead of a signal
        resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))
    return subprocess.run([sys.executable, '-c', code], cwd=ROOT, preexec_fn=limit, capture_output=True, text=True)


def test_a_full_disk_leaves_the_old_files_and_no_temporary_ones(tiny_checkpoint, tmp_path):
    "TorchScript export, a checkpoint and a figure on a full disk: one line, the old file kept, no temporary file."
    exp = tmp_path / 'exp'
    shutil.copytree(tiny_checkpoint.parent, exp)
    before = snapshot(exp)
    r = limited(f'import sys; from deepfake.cli import main; sys.exit(main(["export", {str(exp)!r}, "--format", '
                f'"torchscript"]))', 1 << 20)
    errors = [l for l in r.stderr.strip().splitlines() if not l.startswith('using epoch')]
    assert r.returncode == 2 and len(errors) == 1 and 'File too large' in errors[0], r.stderr
    assert snapshot(exp) == before
    r = limited(f'import torch; from deepfake.checkpoints import save_checkpoint\n'
                f'save_checkpoint(dict(model=torch.zeros(1 << 20)), {str(exp / "last.pth")!r})', 1 << 20)
    assert 'OSError' in r.stderr and str(exp / 'last.pth') in r.stderr and snapshot(exp) == before
    (tmp_path / 'report').mkdir()
    from deepfake.evaluate import _save
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots()
    ax.plot([0, 1])
    good = _save(fig, tmp_path / 'report' / 'roc.png').read_bytes()
    r = limited(f'import matplotlib.pyplot as plt, numpy as np; from deepfake.evaluate import _save\n'
                f'fig, ax = plt.subplots(figsize=(30, 30)); ax.imshow(np.random.rand(800, 800))\n'
                f'_save(fig, {str(tmp_path / "report" / "roc.png")!r})', 64 << 10)
    assert r.returncode != 0 and (tmp_path / 'report' / 'roc.png').read_bytes() == good
    assert sorted(p.name for p in (tmp_path / 'report').iterdir()) == ['.deepfake-files.json', 'roc.png']


def test_the_exporter_never_overwrites_a_hand_written_module(tmp_path):
    "`#| default_exp __init__` names the package's hand-written __init__.py: one line, exit 1, the file kept."
    import nbformat
    root = tmp_path / 'project'
    shutil.copytree(ROOT / 'nbs', root / 'nbs', ignore=shutil.ignore_patterns('*.ipynb'))
    (root / 'settings.ini').write_bytes((ROOT / 'settings.ini').read_bytes())
    (root / 'deepfake').mkdir()
    (root / 'deepfake' / '__init__.py').write_text('# hand-written\n')
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell('#| default_exp __init__'), nbformat.v4.new_code_cell('#| export\nX = 1')]
    nbformat.write(nb, root / 'nbs' / '99_evil.ipynb')
    r = subprocess.run([sys.executable, str(root / 'nbs' / 'notebook2script.py')], capture_output=True, text=True)
    assert r.returncode == 1 and '99_evil.ipynb' in r.stdout and 'hand-written' in r.stdout
    assert (root / 'deepfake' / '__init__.py').read_text() == '# hand-written\n'


def test_names_that_would_corrupt_tables(clip, tmp_path, capsys):
    "A CR, a leading = or @, a 240-character name: error rows in an index.csv that reads back as written."
    src = tmp_path / 'src' / 'real'
    src.mkdir(parents=True)
    names = ['cr\rx', '=HYPERLINK("evil")', '@SUM(1)', 'x' * 240, 'good']
    for n in names:
        (src / f'{n}.mp4').write_bytes(clip.read_bytes())
    code, text = run(capsys, 'preprocess', tmp_path / 'src', '--out', tmp_path / 'faces', '--frames', '2')
    assert code == 0 and 'cr\rx' not in text and 'cr\\rx' in text  # printed escaped
    raw = (tmp_path / 'faces' / 'index.csv').read_text()
    assert '\r' not in raw and '\n=' not in raw and ',=' not in raw and ',@' not in raw
    index = pd.read_csv(tmp_path / 'faces' / 'index.csv', keep_default_na=False)
    assert len(index) == 5 and index.set_index('name').status.to_dict()['good'] == 'ok'
    assert sorted(index.status) == ['error'] * 4 + ['ok']
    assert main(['split', str(tmp_path / 'faces')]) == 2  # one labelled video: nothing to split, said so


def test_two_inputs_with_one_file_name_are_named_apart(tiny_checkpoint, tmp_path, capsys):
    "a/x.mp4 and b/x.mp4 in one folder: the console, the CSV and the JSON tell them apart."
    for sub in ('a', 'b'):
        write_video(tmp_path / 'in' / sub / 'x.mp4', face_frames(4))
    code, text = run(capsys, 'predict', tiny_checkpoint, tmp_path / 'in', '--out', tmp_path / 'sub.csv')
    assert code == 0 and 'a/x.mp4: ' in text and 'b/x.mp4: ' in text
    assert sorted(pd.read_csv(tmp_path / 'sub.csv').filename) == ['a/x.mp4', 'b/x.mp4']
    assert sorted(r['filename'] for r in json.loads((tmp_path / 'sub.json').read_text())) == ['a/x.mp4', 'b/x.mp4']


def test_ffpp_methods_name_their_videos_apart(tmp_path):
    "033_097.mp4 of Deepfakes and of Face2Face are two rows: Deepfakes/033_097.mp4 and Face2Face/033_097.mp4."
    for method in ('Deepfakes', 'Face2Face'):
        folder = tmp_path / 'manipulated_sequences' / method / 'c23' / 'videos'
        folder.mkdir(parents=True)
        (folder / '033_097.mp4').write_bytes(b'x')
    assert sorted(read_source(tmp_path).filename) == ['Deepfakes/033_097.mp4', 'Face2Face/033_097.mp4']


@pytest.mark.parametrize('bad', [['--margin', 'nan'], ['--margin', 'inf'], ['--margin', '1e6'], ['--face_size', '1e9'],
                                 ['--detect_every', 'nan']])
def test_preprocess_numbers_have_ranges(clip, tmp_path, capsys, bad):
    "Checked before any work: nothing invalid reaches preprocess.json (a NaN there locked the folder for good)."
    refused(*run(capsys, 'preprocess', clip, '--out', tmp_path / 'faces', *bad), bad[0])
    assert not (tmp_path / 'faces').exists()
    with pytest.raises(ValueError, match='margin'):
        preprocess(read_sources([clip]), tmp_path / 'faces', margin=float('nan'), progress=False)
    assert not (tmp_path / 'faces' / 'preprocess.json').exists()


@pytest.mark.parametrize('bad', [['--lr', 'nan'], ['--jpeg_quality', '90', '10'], ['--jpeg_quality', '0', '100'],
                                 ['--epochs', '100000000000'], ['--weights', '/etc'], ['--seed', '-1'],
                                 ['--dropout', '1.5']])
def test_training_numbers_have_ranges(demo_faces, tmp_path, capsys, bad):
    "A bad number is refused before a folder is made; nothing blocks the name afterwards."
    assert train_here(demo_faces, tmp_path, '--exp_name', 'x', *bad) == 2
    assert bad[0] in capsys.readouterr().err and not (tmp_path / 'x').exists()


def test_weights_that_are_not_a_state_dict(demo_faces, tmp_path, capsys):
    assert train_here(demo_faces, tmp_path, '--exp_name', 'x', '--weights', '/etc/passwd') == 2
    err = capsys.readouterr().err
    assert '/etc/passwd' in err and 'state dict' in err and len(err.strip().splitlines()) == 1


def test_serve_arguments_are_checked_before_it_starts(tiny_checkpoint, tmp_path, capsys):
    refused(*run(capsys, 'serve', tiny_checkpoint, '--port', '99999'), '--port')
    refused(*run(capsys, 'serve', tiny_checkpoint, '--tmp_dir', tmp_path / 'nonexistent'), '--tmp_dir', 'no such folder')


def test_one_line_where_a_traceback_was(tiny_checkpoint, demo_faces, clip, tmp_path, capsys):
    "split --out FOLDER, evaluate --out FILE, a truncated ONNX with its sidecar, a clip of the wrong shape, a FIFO."
    (tmp_path / 'folder').mkdir()
    refused(*run(capsys, 'split', demo_faces, '--out', tmp_path / 'folder'), 'a folder')
    (tmp_path / 'file').write_text('mine')
    refused(*run(capsys, 'evaluate', tiny_checkpoint, clip, '--out', tmp_path / 'file'), 'a file is there')
    assert run(capsys, 'export', tiny_checkpoint, '--out', tmp_path / 'm.onnx')[0] == 0
    (tmp_path / 'm.onnx').write_bytes((tmp_path / 'm.onnx').read_bytes()[:5000])
    refused(*run(capsys, 'predict', tmp_path / 'm.onnx', clip, '--out', tmp_path / 's.csv'), 'm.onnx',
            'not a readable ONNX model')
    faces = tmp_path / 'faces'
    shutil.copytree(demo_faces, faces)
    name = pd.read_csv(faces / 'videos_df.csv').name[0]
    np.save(faces / 'clips' / f'{name}.npy', np.zeros((4, 8, 8), np.uint8))
    assert train_here(faces, tmp_path / 'runs', '--exp_name', 'shape') == 2
    assert f'{name}.npy' in capsys.readouterr().err
    fifo = tmp_path / 'pipe.mp4'
    os.mkfifo(fifo)
    code, text = run(capsys, 'predict', tiny_checkpoint, fifo, '/dev/null', '--out', tmp_path / 'p.csv')
    assert code == 1 and 'not a regular file' in text


def test_a_dfdc_key_that_climbs_is_its_own_error_row(clip, tmp_path, capsys):
    "`sub/../good.mp4` beside `good.mp4`: one ok row for good, one error row named by the key; the summary counts 2."
    part = tmp_path / 'dfdc' / 'dfdc_train_part_0'
    part.mkdir(parents=True)
    (part / 'good.mp4').write_bytes(clip.read_bytes())
    (part / 'metadata.json').write_text(json.dumps({'good.mp4': {'label': 'REAL'}, 'sub/../good.mp4': {'label': 'FAKE'}}))
    code, text = run(capsys, 'preprocess', tmp_path / 'dfdc', '--out', tmp_path / 'faces', '--frames', '2')
    index = pd.read_csv(tmp_path / 'faces' / 'index.csv').set_index('name')
    assert index.status.to_dict() == {'good': 'ok', 'sub/../good.mp4': 'error'}
    assert re.search(r'^ok\s+1\s', text, re.M) and re.search(r'^error\s+1\s', text, re.M)


NAME_CHARS = st.sampled_from(list('aZ.-=+@ é\\\r\n\t\x1b\u202e_'))


@settings(max_examples=12, deadline=None)
@given(st.lists(st.one_of(st.text(NAME_CHARS, min_size=1, max_size=8), st.text('xé', min_size=100, max_size=125)),
                min_size=1, max_size=4, unique=True))
def test_no_file_name_reaches_outside_the_folders_given(tmp_path_factory, clip_bytes, names):
    "Whatever the file names, preprocess and split change nothing outside SRC and --out (the tree is hashed)."
    root = tmp_path_factory.mktemp('hostile')
    src, out = root / 'data' / 'src', root / 'data' / 'faces'
    sentinels(root, root / 'data', root / 'elsewhere')
    for k, name in enumerate(names):
        folder = src / ('real' if k % 2 else 'fake')
        folder.mkdir(parents=True, exist_ok=True)
        try:
            (folder / f'{name}.mp4').write_bytes(clip_bytes if k < 2 else b'')
        except OSError:  # a name this file system refuses is no name a user can have
            continue
    before = {k: v for k, v in snapshot(root).items() if not k.startswith(('data/src', 'data/faces'))}
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        assert main(['preprocess', str(src), '--out', str(out), '--frames', '2', '--face_size', '32']) in (0, 1)
        main(['split', str(out)])
    after = {k: v for k, v in snapshot(root).items() if not k.startswith(('data/src', 'data/faces'))}
    assert after == before
    index = pd.read_csv(out / 'index.csv', keep_default_na=False, dtype=str)
    assert len(index) == len(list(src.rglob('*.mp4')))  # every file one row, whatever its name


@pytest.fixture(scope='module')
def clip_bytes(clip):
    return clip.read_bytes()


def test_a_slurm_job_array_fills_one_faces_folder(clip, tmp_path):
    "docs/slurm/preprocess.sbatch run as the array would run it, 2 tasks at once: one complete index."
    src = tmp_path / 'src'
    for k in range(6):
        write_video(src / f'v{k}.mp4', face_frames(4))
    env = {**os.environ, 'SRC': str(src), 'FACES': str(tmp_path / 'faces'), 'SLURM_ARRAY_TASK_COUNT': '2',
           'DEEPFAKE': str(Path(sys.executable).parent / 'deepfake'), 'SLURM_CPUS_PER_TASK': '1'}
    tasks = [subprocess.Popen(['bash', str(ROOT / 'docs' / 'slurm' / 'preprocess.sbatch')], cwd=ROOT,
                              env={**env, 'SLURM_ARRAY_TASK_ID': str(i)}, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True) for i in range(2)]
    assert [t.wait(timeout=300) for t in tasks] == [0, 0], [t.stderr.read()[-2000:] for t in tasks]
    index = pd.read_csv(tmp_path / 'faces' / 'index.csv')
    assert sorted(index.name) == [f'v{k}' for k in range(6)] and (index.status == 'ok').all()

"""The hostile suite of issue 36, one family a section: a command replaces or deletes only what its manifest proves it
made; every new file is made fresh (O_EXCL|O_NOFOLLOW); every value read back from a file is ranged like its flag;
only regular files are opened; resources follow the work; a video's files stay apart; the service fails closed.
Each refusal is one line (exit 2, or 401 for the service), and no file the command did not make changes (md5)."""
import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import face_frames, run_cli, write_video
from hypothesis import given, settings, strategies as st

from deepfake.checkpoints import load_checkpoint, save_checkpoint
from deepfake.files import MANIFEST, TMP_NAME, read_manifest, write_output
from deepfake.preprocess import preprocess
from deepfake.sources import read_sources

ROOT = Path(__file__).resolve().parents[1]


def md5s(*folders):
    "{path: md5} of every file under `folders` (links as their target's name): what a test compares before and after."
    found = {}
    for folder in folders:
        for p in sorted(Path(folder).rglob('*')):
            if p.is_symlink():
                found[str(p)] = 'link:' + os.readlink(p)
            elif p.is_file():
                found[str(p)] = hashlib.md5(p.read_bytes()).hexdigest()
    return found


def refused(code, text, *words):
    "A one-line refusal with exit code 2 that says `words` (after the lines that say which checkpoint is used)."
    errors = [l for l in text.strip().splitlines() if l.strip() and not l.startswith('using ')]
    assert code == 2 and len(errors) == 1 and 'Traceback' not in text, text
    assert all(w in errors[0] for w in words), text
    return errors[0]


@pytest.fixture(scope='module')
def clip(tmp_path_factory):
    return write_video(tmp_path_factory.mktemp('clip') / 'face.mp4', face_frames(6))


# -- 1. ownership has one proof: the folder's manifest ------------------------------------------------------------

def test_export_never_replaces_a_users_sidecar_or_model(tiny_checkpoint, tmp_path, capsys):
    "A sidecar beside a file proves nothing: `m.onnx.json` alone, or a user's own `mine.onnx` + `mine.onnx.json`."
    (tmp_path / 'm.onnx.json').write_text('{"mine": true}')
    (tmp_path / 'mine.onnx').write_bytes(b'my model')
    (tmp_path / 'mine.onnx.json').write_text(json.dumps(dict(video_len=4, mean=[0, 0, 0], std=[1, 1, 1],
                                                             num_classes=2, model_name='mine')))
    before = md5s(tmp_path)
    for out in ('m.onnx', 'mine.onnx'):
        refused(*run_cli(capsys, 'export', str(tiny_checkpoint), '--out', str(tmp_path / out)), 'is kept')
    assert md5s(tmp_path) == before and not (tmp_path / 'm.onnx').exists()
    assert run_cli(capsys, 'export', str(tiny_checkpoint), '--out', str(tmp_path / 'ours.onnx'))[0] == 0
    assert run_cli(capsys, 'export', str(tiny_checkpoint), '--out', str(tmp_path / 'ours.onnx'))[0] == 0  # its own


def test_preprocess_never_replaces_a_users_index(clip, tmp_path, capsys):
    "--out a folder of the user's that holds an index.csv: refused before anything is written there."
    src, out = tmp_path / 'src', tmp_path / 'mine'
    src.mkdir()
    out.mkdir()
    (src / 'a.mp4').write_bytes(clip.read_bytes())
    (out / 'index.csv').write_text('my,own\n1,2\n')
    before = md5s(out)
    refused(*run_cli(capsys, 'preprocess', str(src), '--out', str(out), '--frames', '2'), 'index.csv', 'no faces folder')
    assert md5s(out) == before and sorted(p.name for p in out.iterdir()) == ['index.csv']


def test_a_killed_command_leaves_temp_files_its_next_run_removes(tmp_path):
    "A temporary file of a killed write (a plot of evaluate) is in the manifest: the next run of that command removes it."
    code = ('import os, sys; from deepfake.files import write_output\n'
            'def killed(tmp):\n    open(tmp, "wb").write(b"half a plot"); os._exit(9)\n'
            f'write_output({str(tmp_path / "roc.png")!r}, killed, "evaluate")')
    assert subprocess.run([sys.executable, '-c', code]).returncode == 9
    left = [p for p in tmp_path.iterdir() if TMP_NAME.fullmatch(p.name)]
    assert len(left) == 1 and read_manifest(tmp_path)[left[0].name]['by'] == 'evaluate'
    (tmp_path / '.tmp-0123abcd-roc.png').write_text('the user\'s, named alike')  # not in the manifest: kept
    write_output(tmp_path / 'other.csv', 'x\n', 'predict')  # another command leaves it
    assert left[0].exists()
    write_output(tmp_path / 'roc.png', b'png', 'evaluate')
    assert not left[0].exists() and (tmp_path / '.tmp-0123abcd-roc.png').exists()
    assert set(read_manifest(tmp_path)) == {'other.csv', 'roc.png'}


def test_a_refused_shard_writes_nothing(clip, tmp_path, capsys):
    src = tmp_path / 'src'
    src.mkdir()
    (src / 'a.mp4').write_bytes(clip.read_bytes())
    refused(*run_cli(capsys, 'preprocess', str(src), '--out', str(tmp_path / 'new'), '--shard', '3/2'), '--shard')
    assert not (tmp_path / 'new').exists()


# -- 2. the service's token file, and a service that fails closed ----------------------------------------------

def test_the_token_file_is_never_written_through_a_planted_link(tmp_path):
    from deepfake.serve import shared_token
    victim, token_file = tmp_path / 'victim.txt', tmp_path / 'conf' / 'serve_token'
    victim.write_text('precious')
    token_file.parent.mkdir()
    for name in [f'.serve_token.{os.getpid()}', f'.serve_token.{os.getpid() + 1}']:  # the old code's temp names
        (token_file.parent / name).symlink_to(victim)
    token = shared_token(token_file)
    assert victim.read_text() == 'precious' and len(token) == 32
    assert oct(token_file.stat().st_mode & 0o777) == '0o600' and shared_token(token_file) == token
    assert sorted(p.name for p in token_file.parent.iterdir()) == sorted(
        ['serve_token', f'.serve_token.{os.getpid()}', f'.serve_token.{os.getpid() + 1}'])


@pytest.mark.parametrize('content', ['', '   \n', '\n'])
def test_an_empty_token_file_is_refused_at_start(tiny_checkpoint, tmp_path, monkeypatch, content):
    from deepfake.serve import create_app_from_env
    (tmp_path / 'token').write_text(content)
    monkeypatch.setenv('DEEPFAKE_CHECKPOINT', str(tiny_checkpoint))
    monkeypatch.setenv('DEEPFAKE_TOKEN_FILE', str(tmp_path / 'token'))
    monkeypatch.delenv('DEEPFAKE_TOKEN', raising=False)
    with pytest.raises(ValueError, match='empty or blank'):
        create_app_from_env()
    monkeypatch.setenv('DEEPFAKE_TOKEN', ' ')
    with pytest.raises(ValueError, match=r'\$DEEPFAKE_TOKEN is empty or blank'):
        create_app_from_env()


def test_a_blank_token_flag_is_refused_before_the_model_loads(tmp_path, capsys, monkeypatch):
    for token in ['   ', '', '\t']:
        refused(*run_cli(capsys, 'serve', str(tmp_path / 'absent.pth'), '--token', token), 'empty or blank')
    monkeypatch.setenv('DEEPFAKE_TOKEN', '')
    from deepfake.cli import main
    assert main(['serve', str(tmp_path / 'absent.pth')]) == 2
    assert 'empty or blank' in capsys.readouterr().err


# -- 3. values read back from files are ranged like flags; only regular files are opened --------------------------

def test_a_recipe_of_nested_aliases_is_refused_at_once(demo_faces, tmp_path, capsys):
    "387 bytes that grew past 2.8 GB: aliases are not read in recipes."
    bomb = 'a: &a ["x","x","x","x","x","x","x","x","x"]\n' + ''.join(
        f'{c}: &{c} [*{p},*{p},*{p},*{p},*{p},*{p},*{p},*{p},*{p}]\n' for p, c in zip('abcdefgh', 'bcdefghi'))
    recipe = tmp_path / 'bomb.yaml'
    recipe.write_text(bomb + 'lr: *i\n')
    start = time.perf_counter()
    refused(*run_cli(capsys, 'train', '-c', str(recipe), '--root_dir', str(demo_faces)), 'aliases')
    assert time.perf_counter() - start < 10
    (tmp_path / 'big.yaml').write_text('epochs: 1\n' + '#' * (2 << 20))
    refused(*run_cli(capsys, 'train', '-c', str(tmp_path / 'big.yaml'), '--root_dir', str(demo_faces)), 'larger than')


def copy_faces(faces, to):
    "A copy of the faces folder `faces` (its tables and the clips of its split, not its manifest) at `to`; the split."
    (to / 'clips').mkdir(parents=True)
    for p in faces.iterdir():
        if p.is_file() and p.name != MANIFEST:
            (to / p.name).write_bytes(p.read_bytes())
    split = pd.read_csv(faces / 'videos_df.csv', dtype={'name': str})
    for name in split.name:
        (to / 'clips' / f'{name}.npy').write_bytes((faces / 'clips' / f'{name}.npy').read_bytes())
    return to, split


def fifo(path):
    os.mkfifo(path)
    return path


def test_a_fifo_is_never_opened(demo_faces, tmp_path, capsys):
    "A FIFO given as a recipe, or in a clip's place, is refused in one line; nothing waits for a writer."
    recipe = fifo(tmp_path / 'recipe.yaml')
    refused(*run_cli(capsys, 'train', '-c', str(recipe), '--root_dir', str(demo_faces)), 'FIFO')
    faces, split = copy_faces(demo_faces, tmp_path / 'faces')
    (faces / 'clips' / f'{split.name[0]}.npy').unlink()
    fifo(faces / 'clips' / f'{split.name[0]}.npy')
    code, text = run_cli(capsys, 'train', '--root_dir', str(faces), '--save_model_path', str(tmp_path / 'runs'),
                         '--exp_name', 'x', '--epochs', '1', '--input_size', '32', '--video_len', '2')
    refused(code, text, 'FIFO', split.name[0])
    assert not (tmp_path / 'runs' / 'x').exists()  # a refused run leaves no folder claimed


def test_a_clip_of_another_size_is_one_line_and_leaves_no_run(demo_faces, tmp_path, capsys):
    faces, split = copy_faces(demo_faces, tmp_path / 'faces')
    odd = split.name[len(split) // 2]
    np.save(faces / 'clips' / f'{odd}.npy', np.zeros((8, 40, 40, 3), np.uint8))
    code, text = run_cli(capsys, 'train', '--root_dir', str(faces), '--save_model_path', str(tmp_path / 'runs'),
                         '--exp_name', 'x', '--epochs', '1', '--input_size', '32', '--video_len', '2')
    refused(code, text, odd, '40×40')
    assert not (tmp_path / 'runs' / 'x').exists()


@pytest.mark.parametrize('change, words', [
    (dict(input_size=12000), 'input_size'), (dict(video_len=1_000_000), 'video_len'), (dict(num_classes=7), 'num_classes'),
    (dict(std=[0, 1, 1]), 'std'), (dict(mean='x'), 'mean'), (dict(preprocess=dict(face_size=10**9)), 'face_size')])
def test_an_export_sidecar_is_ranged_like_the_flags(tiny_checkpoint, tmp_path, capsys, change, words):
    out = tmp_path / 'm.torchscript.pt'
    assert run_cli(capsys, 'export', str(tiny_checkpoint), '--format', 'torchscript', '--out', str(out))[0] == 0
    sidecar = Path(f'{out}.json')
    sidecar.write_text(json.dumps({**json.loads(sidecar.read_text()), **change}))
    refused(*run_cli(capsys, 'predict', str(out), str(tmp_path / 'none.mp4'), '--out', str(tmp_path / 's.csv')),
            str(sidecar), words)
    assert not (tmp_path / 's.csv').exists()


@pytest.mark.parametrize('change, words', [
    (dict(args='resnet18'), 'not a mapping'), (dict(args=dict(model_name='resnet18', input_size=12000)), 'input_size'),
    (dict(args=dict(model_name='resnet18', hidden_size=-1)), 'hidden_size'),
    (dict(args=dict(model_name='no_such_model')), 'unknown model'),
    (dict(args=dict(model_name='resnet34')), 'do not fit'), (dict(model='x'), 'not a deepfake checkpoint'),
    (dict(data_cfg=dict(input_size=32, video_len=4, mean=[0.5] * 3, std=[0.0] * 3)), 'std')])
def test_a_checkpoint_is_ranged_like_the_flags(tiny_checkpoint, tmp_path, capsys, change, words):
    ckpt = load_checkpoint(tiny_checkpoint)
    if isinstance(change.get('args'), dict):
        change = {**change, 'args': {**ckpt['args'], **change['args']}}
    save_checkpoint({**ckpt, **change}, tmp_path / 'bad.pth')
    refused(*run_cli(capsys, 'predict', str(tmp_path / 'bad.pth'), str(tmp_path / 'none.mp4'),
                     '--out', str(tmp_path / 's.csv')), 'bad.pth', words)


def test_faces_folder_settings_are_ranged_like_the_flags(demo_faces, tmp_path, capsys):
    faces, _ = copy_faces(demo_faces, tmp_path / 'faces')
    settings = json.loads((faces / 'preprocess.json').read_text())
    (faces / 'preprocess.json').write_text(json.dumps({**settings, 'margin': float('nan')}).replace('NaN', '1e999'))
    refused(*run_cli(capsys, 'train', '--root_dir', str(faces), '--save_model_path', str(tmp_path / 'runs')),
            'preprocess.json', 'margin')


# -- 4. resources follow the work -----------------------------------------------------------------------------------

def test_workers_never_exceed_the_videos_to_do(clip, tmp_path, monkeypatch):
    import deepfake.preprocess as pre
    started = []
    real_run = pre._run

    def run(todo, settings, out, frames, interval, workers, *rest):
        started.append(workers)
        return real_run(todo, settings, out, frames, interval, 1, *rest)
    monkeypatch.setattr(pre, '_run', run)
    src = tmp_path / 'src'
    src.mkdir()
    for name in 'ab':
        (src / f'{name}.mp4').write_bytes(clip.read_bytes())
    preprocess(read_sources([src]), tmp_path / 'out', frames=2, face_size=32, workers=16, progress=False)
    preprocess(read_sources([src]), tmp_path / 'out', frames=2, face_size=32, workers=16, progress=False)
    assert started == [2, 1]  # the second run has nothing to do


# -- 5. tables keep a video's files apart; one source however it is named --------------------------------------------

def test_a_name_that_would_take_another_videos_files_is_an_error_row(clip, tmp_path):
    "`x.landmarks` would write clips/x.landmarks.npy, the landmarks of `x`: it is refused, `x` keeps its files."
    src = tmp_path / 'src'
    src.mkdir()
    for name in ['x', 'x.landmarks']:
        (src / f'{name}.mp4').write_bytes(clip.read_bytes())
    index = preprocess(read_sources([src]), tmp_path / 'out', frames=2, face_size=32, progress=False).set_index('name')
    assert index.status.to_dict() == {'x': 'ok', 'x.landmarks': 'error'}
    assert "would share its files in FACES with video 'x'" in index.error['x.landmarks']
    clips = tmp_path / 'out' / 'clips'
    assert np.load(clips / 'x.npy').shape[1:] == (32, 32, 3) and np.load(clips / 'x.landmarks.npy').shape[1:] == (5, 2)


def test_the_same_source_given_another_way_is_the_same_source(clip, tmp_path, monkeypatch, capsys):
    src, out = tmp_path / 'data' / 'src', tmp_path / 'faces'
    src.mkdir(parents=True)
    (src / 'a.mp4').write_bytes(clip.read_bytes())
    monkeypatch.chdir(tmp_path / 'data')
    assert run_cli(capsys, 'preprocess', 'src', '--out', str(out), '--frames', '2', '--face_size', '32')[0] == 0
    for cwd, source in [(tmp_path, str(src)), (tmp_path, 'data/src'), (tmp_path / 'data' / 'src', '.')]:
        monkeypatch.chdir(cwd)
        code, text = run_cli(capsys, 'preprocess', source, '--out', str(out), '--frames', '2', '--face_size', '32')
        assert code == 0 and '1 videos were done already' in text, text
    assert pd.read_csv(out / 'index.csv').path.tolist() == [str(src / 'a.mp4')]


def test_a_split_csv_naming_a_video_twice_is_refused(demo_faces, tmp_path, capsys):
    split = pd.read_csv(demo_faces / 'videos_df.csv', dtype={'name': str})
    twice = pd.concat([split, split.iloc[[0]].assign(label='REAL' if split.label[0] == 'FAKE' else 'FAKE')])
    twice.to_csv(tmp_path / 'twice.csv', index=False)
    refused(*run_cli(capsys, 'train', '--root_dir', str(demo_faces), '--csv_file', str(tmp_path / 'twice.csv'),
                     '--save_model_path', str(tmp_path / 'runs')), f"video '{split.name[0]}' is on line 2 and again "
            f'on line {len(twice) + 1}')


NAMES = st.sampled_from(['x', 'X', 'x.landmarks', 'X.LANDMARKS', 'x.landmarks.landmarks', 'é', 'e\u0301', 'y'])


@settings(max_examples=8, deadline=None)
@given(st.lists(NAMES, min_size=2, max_size=3, unique=True))
def test_no_two_videos_share_a_file(tmp_path_factory, clip_bytes, names):
    "Whatever the names, each ok video has its own clip and landmarks, and no two ok videos own one file name."
    root = tmp_path_factory.mktemp('collide')
    src, out = root / 'src', root / 'faces'
    src.mkdir()
    for name in names:
        (src / f'{name}.mp4').write_bytes(clip_bytes)
    index = preprocess(read_sources([src]), out, frames=2, face_size=32, progress=False)
    ok = index[index.status == 'ok'].name.tolist()
    files = [f.casefold() for n in ok for f in (f'{n}.npy', f'{n}.landmarks.npy')]
    assert len(files) == len(set(files)) and len(ok) + (index.status == 'error').sum() == len(names)
    for name in ok:
        assert len(np.load(out / 'clips' / f'{name}.npy')) == len(np.load(out / 'clips' / f'{name}.landmarks.npy'))


@pytest.fixture(scope='module')
def clip_bytes(clip):
    return clip.read_bytes()


# -- 6. the one writer --------------------------------------------------------------------------------------------

def test_no_write_or_delete_outside_the_files_module():
    """grep: no module of the package writes, replaces or deletes a file but through deepfake.files (`buffer`: in
    memory, handed to the writer after; `f`: a file `open_new` made)."""
    import re
    pattern = re.compile(r"open\([^)]*['\"][wax]b?\+?['\"]|\.write_text\(|\.write_bytes\(|os\.replace\(|shutil\.rmtree\("
                         r"|\.unlink\(|os\.unlink\(|os\.remove\(|np\.save\((?!buffer|f, )|torch\.save\([^,]+,\s*(?!buffer)\w")
    found = [f'{p.name}:{k}: {line.strip()}' for p in sorted((ROOT / 'deepfake').glob('*.py')) if p.name != 'files.py'
             for k, line in enumerate(p.read_text().splitlines(), 1) if pattern.search(line)]
    assert found == [], found

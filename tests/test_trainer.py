"The trainer: arguments, metrics, checkpoints, kill-and-resume, mlflow, and distributed training on CPU."
import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from fastai.callback.core import Callback

from deepfake.args import parse_args
from deepfake.callbacks import METRIC_COLUMNS
from deepfake.checkpoints import load_checkpoint, load_model, save_checkpoint
from deepfake.metrics import auc, log_loss
from deepfake.trainer import held_out, train

ROOT = Path(__file__).resolve().parents[1]
TINY = ['--epochs', '2', '--batch_size', '4', '--workers', '0', '--input_size', '32', '--video_len', '4',
        '--hidden_size', '16', '--embed_dim', '32']


def tiny_args(demo_faces, tmp_path, name, *extra):
    return parse_args(['--root_dir', str(demo_faces), '--save_model_path', str(tmp_path), '--exp_name', name,
                       *TINY, *extra])


def test_argument_defaults_and_booleans():
    a = parse_args([])
    assert (a.model_name, a.csv_file, a.num_classes, a.pretrained, a.freeze_backbone) == \
        ('resnet18', 'videos_df.csv', 2, False, False)
    assert parse_args(['--pretrained']).pretrained is True
    assert parse_args(['--no-pretrained']).pretrained is False
    assert parse_args(['--freeze_backbone', '--rnn', 'gru']).rnn == 'gru'
    with pytest.raises(SystemExit):
        parse_args(['--pretrained', 'False'])  # the seed's type=bool trap is now an error


def test_metrics():
    assert log_loss([1, 0], [1.0, 0.0]) < 1e-12 and math.isclose(log_loss([1], [0.0]), 34.538776394910684)
    assert auc([0, 1, 1], [0.1, 0.9, 0.8]) == 1.0 and math.isnan(auc([1, 1], [0.2, 0.3]))


def test_save_checkpoint_never_leaves_a_broken_file(tmp_path, monkeypatch):
    path = tmp_path / 'last.pth'
    save_checkpoint({'epoch': 1}, path)

    def crash(obj, f, *a, **k):  # torch.save writing half of it, then failing
        f.write(b'half') if hasattr(f, 'write') else Path(f).write_bytes(b'half')
        raise OSError('disk full')
    monkeypatch.setattr(torch, 'save', crash)
    with pytest.raises(OSError):
        save_checkpoint({'epoch': 2}, path)
    monkeypatch.undo()
    assert torch.load(path, weights_only=True) == {'epoch': 1} and os.listdir(tmp_path) == ['last.pth']


class Kill(Callback):
    "Stop the run after the first epoch, as a killed process would."
    order = 100

    def after_epoch(self):
        if self.epoch == 0:
            raise KeyboardInterrupt


def test_end_to_end_checkpoints_and_resume(demo_faces, tmp_path):
    learn = train(tiny_args(demo_faces, tmp_path, 'full'))
    exp = tmp_path / 'full'
    assert learn.exp_dir == exp
    assert sorted(p.name for p in exp.iterdir()) == ['.deepfake-files.json', '.lock', 'args.json', 'best.pth',
                                                     'checkpoint.json', 'epoch_001.pth', 'epoch_002.pth', 'last.pth',
                                                     'metrics.csv']
    metrics = pd.read_csv(exp / 'metrics.csv')
    assert list(metrics.columns) == METRIC_COLUMNS and metrics.epoch.tolist() == [1, 2]
    assert metrics[['train_loss', 'valid_loss', 'valid_logloss']].notna().all().all()
    ckpt = load_checkpoint(exp, 'resume')  # last.pth, weights_only=True inside
    assert {'model', 'optimizer', 'scheduler', 'epoch', 'args', 'metrics', 'preprocess'} <= set(ckpt)
    assert ckpt['epoch'] == 2 and ckpt['args']['model_name'] == 'resnet18' and len(ckpt['metrics']) == 2
    assert json.loads((exp / 'args.json').read_text())['epochs'] == 2
    best = min(ckpt['metrics'], key=lambda r: r['valid_logloss'])['epoch']
    assert os.path.samefile(exp / 'best.pth', exp / f'epoch_{best:03d}.pth')
    model, _ = load_model(exp / 'best.pth')
    x = torch.randn(1, 4, 3, 32, 32)
    assert model(x).shape == (1, 2)

    with pytest.raises(KeyboardInterrupt):
        train(tiny_args(demo_faces, tmp_path, 'killed'), cbs=[Kill()])
    assert load_checkpoint(tmp_path / 'killed', 'resume')['epoch'] == 1
    train(parse_args(['--resume', str(tmp_path / 'killed'), '--workers', '0']))
    resumed = pd.read_csv(tmp_path / 'killed' / 'metrics.csv')
    cols = [c for c in METRIC_COLUMNS if c != 'seconds']
    pd.testing.assert_frame_equal(resumed[cols], metrics[cols])


def test_a_tiny_validation_side_means_the_last_epoch(demo_faces, tmp_path, capsys):
    "Lowest validation loss at epoch 1 of 3 on 4 validation groups: the folder still means epoch 3, and says why."
    from deepfake.checkpoints import MIN_VALID_GROUPS, checkpoint_file, choose_epoch, describe_checkpoint
    history = [dict(epoch=1, valid_logloss=0.2, valid_auc=0.9), dict(epoch=2, valid_logloss=0.6, valid_auc=0.6),
               dict(epoch=3, valid_logloss=0.7, valid_auc=0.5)]
    choice = choose_epoch(history, valid_groups=4, epochs=3)
    assert choice['epoch'] == 3 and choice['rule'] == 'last' and '4 validation groups are too few' in choice['reason']
    many = choose_epoch(history, valid_groups=MIN_VALID_GROUPS, epochs=3)  # enough groups: smoothed AUC chooses
    assert many['epoch'] == 1 and many['rule'] == 'smoothed_auc'
    train(tiny_args(demo_faces, tmp_path, 'tiny', '--epochs', '3'))
    exp = tmp_path / 'tiny'
    assert json.loads((exp / 'checkpoint.json').read_text())['epoch'] == 3
    assert checkpoint_file(exp) == exp / 'epoch_003.pth' and os.path.samefile(exp / 'epoch_003.pth', exp / 'last.pth')
    assert describe_checkpoint(exp).startswith(f'using epoch 3 of 3 of {exp}: the last epoch trained: ')


def test_balance_loss_and_gru(demo_faces, tmp_path):
    train(tiny_args(demo_faces, tmp_path, 'gru', '--epochs', '1', '--rnn', 'gru', '--balance_loss',
                    '--freeze_backbone'))
    assert pd.read_csv(tmp_path / 'gru' / 'metrics.csv').valid_loss.notna().all()


def test_bf16_autocast_and_channels_last_on_cpu(demo_faces, tmp_path):
    "--amp on a CPU trains under bf16 autocast (fastai's own is CUDA-only); metrics stay float32 and finite."
    seen = []

    class Spy(Callback):
        order = 11  # after CPUAutocast entered its context

        def before_batch(self):
            seen.append(torch.is_autocast_enabled('cpu'))

    learn = train(tiny_args(demo_faces, tmp_path, 'amp', '--epochs', '1', '--amp', '--channels_last'), cbs=[Spy()])
    assert seen and all(seen) and not torch.is_autocast_enabled('cpu')
    assert learn.model.model.backbone.conv1.weight.is_contiguous(memory_format=torch.channels_last)
    metrics = pd.read_csv(tmp_path / 'amp' / 'metrics.csv')
    assert np.isfinite(metrics[['train_loss', 'valid_loss', 'valid_logloss']].to_numpy()).all()
    load_model(tmp_path / 'amp')  # a channels-last checkpoint loads into a plain model


def test_resume_a_run_from_before_newer_options(demo_faces, tmp_path):
    "A checkpoint written before --augment and --channels_last existed resumes with their defaults."
    train(tiny_args(demo_faces, tmp_path, 'old', '--epochs', '1'))
    last = tmp_path / 'old' / 'last.pth'
    ckpt = torch.load(last, weights_only=True)
    for newer in ('augment', 'channels_last'):
        del ckpt['args'][newer]
    save_checkpoint(ckpt, last, 'train')  # as the older version's run wrote it
    train(parse_args(['--resume', str(tmp_path / 'old'), '--epochs', '2']))
    resumed = json.loads((tmp_path / 'old' / 'args.json').read_text())
    assert resumed['augment'] == 'full' and resumed['channels_last'] is True


def test_mlflow_tracking(demo_faces, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    train(tiny_args(demo_faces, tmp_path, 'tracked', '--epochs', '1', '--tracking', 'mlflow'))
    import mlflow
    from deepfake.callbacks import mlflow_uri
    mlflow.set_tracking_uri(mlflow_uri(tmp_path / 'mlruns'))
    runs = mlflow.search_runs(experiment_names=['deepfake'])
    assert len(runs) == 1 and runs['params.model_name'][0] == 'resnet18'
    assert not np.isnan(runs['metrics.valid_logloss'][0])
    client = mlflow.tracking.MlflowClient()
    artifacts = {a.path for a in client.list_artifacts(runs.run_id[0])}
    assert {'epoch_001.pth', 'checkpoint.json', 'metrics.csv'} <= artifacts


def test_torchrun_two_processes_on_cpu(demo_faces, tmp_path):
    "DistributedDataParallel with the gloo backend, 2 processes; rank 0 alone writes checkpoints."
    cmd = [sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node', '2', '--master_port', '29533',
           str(ROOT / 'train.py'), '--root_dir', str(demo_faces), '--save_model_path', str(tmp_path),
           '--exp_name', 'ddp', *TINY, '--epochs', '1']
    env = {**os.environ, 'OMP_NUM_THREADS': '1'}
    result = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert pd.read_csv(tmp_path / 'ddp' / 'metrics.csv').epoch.tolist() == [1]
    assert load_checkpoint(tmp_path / 'ddp', 'resume')['epoch'] == 1


def test_resume_extends_a_finished_run(demo_faces, tmp_path, capsys):
    "1 epoch, then --resume --epochs 2: two rows and epoch_002.pth; a finished run or a changed model is refused."
    train(tiny_args(demo_faces, tmp_path, 'short', '--epochs', '1'))
    exp = tmp_path / 'short'
    with pytest.raises(ValueError, match='finished its 1 epochs'):
        train(parse_args(['--resume', str(exp)]))
    with pytest.raises(ValueError, match='trained with') as refused:
        train(parse_args(['--resume', str(exp), '--epochs', '2', '--model_name', 'resnet34', '--video_len', '8']))
    assert '--model_name resnet18' in str(refused.value) and '--video_len 4' in str(refused.value)
    capsys.readouterr()
    train(parse_args(['--resume', str(exp), '--epochs', '2', '--workers', '0']))
    assert '1 → 2 epochs' in capsys.readouterr().out
    assert pd.read_csv(exp / 'metrics.csv').epoch.tolist() == [1, 2] and (exp / 'epoch_002.pth').exists()
    assert json.loads((exp / 'args.json').read_text())['epochs'] == 2


def test_root_dir_is_required_and_paths_are_stored_absolute(demo_faces, tmp_path, monkeypatch):
    with pytest.raises(ValueError, match='--root_dir is required'):
        train(parse_args(['--save_model_path', str(tmp_path)]))
    monkeypatch.chdir(demo_faces.parent)
    train(parse_args(['--root_dir', demo_faces.name, '--save_model_path', str(tmp_path), '--exp_name', 'rel',
                      *TINY, '--epochs', '1']))
    stored = json.loads((tmp_path / 'rel' / 'args.json').read_text())
    assert stored['root_dir'] == str(demo_faces.resolve())
    monkeypatch.chdir(tmp_path)  # --resume from another folder finds the data
    with pytest.raises(ValueError, match='finished'):
        train(parse_args(['--resume', 'rel']))


def test_recipe_file_sets_defaults_and_flags_win(tmp_path):
    recipe = tmp_path / 'r.yaml'
    recipe.write_text('model_name: mobilenet_v2\nepochs: 7\npretrained: true\ncrop_size: 96\n')
    a = parse_args(['-c', str(recipe), '--epochs', '2'])
    assert (a.model_name, a.epochs, a.pretrained, a.input_size) == ('mobilenet_v2', 2, True, 96)
    recipe.write_text('epochs: [1, 2]\n')
    with pytest.raises(SystemExit):
        parse_args(['-c', str(recipe)])
    shipped = sorted((ROOT / 'recipes').glob('*.yaml'))
    assert shipped and all(parse_args(['-c', str(r)]).model_name for r in shipped)


def test_self_blended_training_and_its_resume(demo_faces, tmp_path, capsys):
    "--fakes sbi: the real videos only, each batch doubled by their self-blended fakes; resume is exact with it too."
    seen = []

    class Labels(Callback):
        order = 2  # after BatchTransform

        def before_batch(self):
            if self.training:
                seen.append(self.yb[0].tolist())
    extra = ['--fakes', 'sbi', '--clips_per_video', '2', '--pairs']
    train(tiny_args(demo_faces, tmp_path, 'sbi', *extra), cbs=[Labels()])
    assert 'each with its self-blended fake' in capsys.readouterr().out
    assert seen and all(labels == [0] * (len(labels) // 2) + [1] * (len(labels) // 2) for labels in seen)
    full = pd.read_csv(tmp_path / 'sbi' / 'metrics.csv')
    with pytest.raises(KeyboardInterrupt):
        train(tiny_args(demo_faces, tmp_path, 'sbi_killed', *extra), cbs=[Kill()])
    train(parse_args(['--resume', str(tmp_path / 'sbi_killed'), '--workers', '0']))
    resumed = pd.read_csv(tmp_path / 'sbi_killed' / 'metrics.csv')
    cols = [c for c in METRIC_COLUMNS if c != 'seconds']
    pd.testing.assert_frame_equal(resumed[cols], full[cols])


def test_extra_real_people_join_the_training_side_only(demo_faces, tmp_path, capsys):
    "--extra_real (another faces folder's REAL videos) and --extra_data (all of them) train beside the split's, never validate."
    extra = tmp_path / 'other_faces'
    (extra / 'clips').mkdir(parents=True)
    index = pd.read_csv(demo_faces / 'index.csv', dtype={'name': str})
    reals = index[(index.status == 'ok') & (index.label == 'REAL')].head(2)
    for name in reals.name:
        for suffix in ('.npy', '.landmarks.npy'):
            shutil.copy(demo_faces / 'clips' / f'{name}{suffix}', extra / 'clips' / f'other_{name}{suffix}')
    fake = index[index.label == 'FAKE'].head(1)  # a FAKE row there: not used by --extra_real
    for suffix in ('.npy', '.landmarks.npy'):
        shutil.copy(demo_faces / 'clips' / f'{fake.name.iloc[0]}{suffix}', extra / 'clips')
    pd.concat([reals.assign(name='other_' + reals.name), fake]).to_csv(extra / 'index.csv', index=False)
    shutil.copy(demo_faces / 'preprocess.json', extra / 'preprocess.json')
    learn = train(tiny_args(demo_faces, tmp_path, 'extra', '--epochs', '1', '--fakes', 'sbi', '--extra_real', str(extra),
                            '--holdout_reals', '0'))
    train_videos, valid_videos = learn.dls.train.dataset.videos, learn.dls.valid.dataset.videos
    assert set(train_videos.name) >= {'other_' + n for n in reals.name} and set(train_videos.label) == {'REAL'}
    assert not valid_videos.name.str.startswith('other_').any() and fake.name.iloc[0] not in set(train_videos.name)
    assert '(2 from --extra_real and --extra_data)' in capsys.readouterr().out
    assert json.loads((tmp_path / 'extra' / 'args.json').read_text())['extra_real'] == [str(extra.resolve())]
    learn = train(tiny_args(demo_faces, tmp_path, 'data', '--epochs', '1', '--extra_data', str(extra),
                            '--holdout_reals', '0'))
    other = learn.dls.train.dataset.videos  # --extra_data: its FAKE videos too, still never validated
    assert set(other.name) >= {'other_' + n for n in reals.name} | set(fake.name) and set(other.label) == {'REAL', 'FAKE'}
    assert not learn.dls.valid.dataset.videos.name.str.startswith('other_').any()

    # held out: the reals of about --holdout_reals of its groups validate instead, and the threshold counts them
    learn = train(tiny_args(demo_faces, tmp_path, 'held', '--epochs', '1', '--extra_data', str(extra),
                            '--holdout_reals', '0.9'))
    held = held_out(pd.concat([reals.assign(name='other_' + reals.name), fake]).reset_index(drop=True), 0.9)
    held_names = {'other_' + n for n in reals.name} & set(('other_' + reals.name)[held[:len(reals)].to_numpy()])
    valid_names, train_names = set(learn.dls.valid.dataset.videos.name), set(learn.dls.train.dataset.videos.name)
    assert held_names and held_names <= valid_names and not held_names & train_names
    split = pd.read_csv(demo_faces / 'videos_df.csv')
    own_reals = int(((split.label == 'REAL') & split.is_valid).sum())
    assert load_checkpoint(tmp_path / 'held')['threshold']['reals'] == own_reals + len(held_names)

    settings = json.loads((extra / 'preprocess.json').read_text())
    (extra / 'preprocess.json').write_text(json.dumps({**settings, 'face_size': 2 * settings['face_size']}))
    with pytest.raises(ValueError, match='preprocess both the same way'):
        train(tiny_args(demo_faces, tmp_path, 'cut_otherwise', '--epochs', '1', '--extra_real', str(extra)))


def test_augmentation_in_the_loader_workers_is_repeatable(demo_faces, tmp_path):
    "On a CPU the loader's worker processes blend and augment each batch: two runs with 2 workers score the same."
    runs = []
    for name in ('first', 'second'):
        train(tiny_args(demo_faces, tmp_path, name, '--epochs', '1', '--workers', '2', '--fakes', 'both'))
        runs.append(pd.read_csv(tmp_path / name / 'metrics.csv'))
    cols = [c for c in METRIC_COLUMNS if c != 'seconds']
    pd.testing.assert_frame_equal(runs[0][cols], runs[1][cols])


def test_every_frame_of_every_video_for_a_frame_model(demo_faces, tmp_path, capsys):
    "clips_per_video all and video_len 1: each stored face is one item an epoch; validation scores 8-frame clips."
    learn = train(tiny_args(demo_faces, tmp_path, 'frames', '--epochs', '1', '--model_name', 'frame_resnet18',
                            '--video_len', '1', '--valid_len', '8', '--clips_per_video', 'all'))
    faces = sum(len(np.load(demo_faces / 'clips' / f'{n}.npy')) for n in learn.dls.train.dataset.videos.name)
    assert len(learn.dls.train.dataset) == faces and f'an epoch: {faces} clips of 1 frame from' in capsys.readouterr().out
    assert load_checkpoint(tmp_path / 'frames')['data_cfg']['video_len'] == 8

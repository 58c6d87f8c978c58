"One job per module: serving without the training stack, one checkpoint rule, one device rule."
import subprocess
import sys

import pandas as pd
import torch

from deepfake.checkpoints import load_checkpoint, save_checkpoint
from deepfake.cli import main
from deepfake.predict import Detector


def test_inference_does_not_load_the_training_stack():
    code = ('import sys, deepfake.serve, deepfake.predict, deepfake.export, deepfake.evaluate; '
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'fastai', 'fastcore', 'mlflow', 'accelerate'}), "
            "sorted(m for m in sys.modules if m in ('deepfake.trainer', 'deepfake.callbacks')))")
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == '[] []'


def test_a_folder_means_best_pth_in_python_and_on_the_command_line(tiny_checkpoint, demo_videos, tmp_path, capsys):
    "`Detector(folder)` and `deepfake predict folder` score with one file: best.pth, not last.pth."
    exp = tmp_path / 'exp'
    exp.mkdir()
    best = load_checkpoint(tiny_checkpoint)
    save_checkpoint(best, exp / 'best.pth')
    last = {**best, 'model': {k: torch.zeros_like(v) if v.is_floating_point() else v for k, v in best['model'].items()}}
    save_checkpoint(last, exp / 'last.pth')
    video = sorted(demo_videos.glob('*/*.mp4'))[0]
    in_python = Detector(exp, frames=4, device='auto')
    assert in_python.checkpoint == exp / 'best.pth'
    assert main(['predict', str(exp), str(video), '--out', str(tmp_path / 's.csv'), '--frames', '4',
                 '--device', 'auto']) == 0
    on_cli = pd.read_csv(tmp_path / 's.csv').label[0]
    assert on_cli == in_python.predict_video(video).fake_probability
    assert on_cli != Detector(exp / 'last.pth', frames=4).predict_video(video).fake_probability


def test_a_bad_device_is_one_line(tiny_checkpoint, demo_videos, capsys):
    video = sorted(demo_videos.glob('*/*.mp4'))[0]
    for device in ['gpu', 'cuda:x'] + ([] if torch.cuda.is_available() else ['cuda']):
        assert main(['predict', str(tiny_checkpoint), str(video), '--device', device]) == 2
        err = capsys.readouterr().err
        assert err.startswith('deepfake predict: --device') and 'Traceback' not in err

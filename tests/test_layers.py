"One job per module: serving without the training stack, one checkpoint rule, one device rule."
import json
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


def test_a_folder_means_its_chosen_epoch_in_python_and_on_the_command_line(tiny_checkpoint, demo_videos, tmp_path,
                                                                          capsys):
    "`Detector(folder)` and `deepfake predict folder` score with one file: the epoch checkpoint.json chose, said so."
    exp = tmp_path / 'exp'
    exp.mkdir()
    chosen = load_checkpoint(tiny_checkpoint)
    save_checkpoint(chosen, exp / 'epoch_001.pth')
    other = {**chosen, 'model': {k: torch.zeros_like(v) if v.is_floating_point() else v for k, v in chosen['model'].items()}}
    save_checkpoint(other, exp / 'last.pth')
    save_checkpoint(other, exp / 'best.pth')
    (exp / 'checkpoint.json').write_text(json.dumps(dict(epoch=1, epochs=2, rule='last', valid_groups=3,
                                                         reason='as a test says')))
    video = sorted(demo_videos.glob('*/*.mp4'))[0]
    in_python = Detector(exp, frames=4, device='auto')
    assert in_python.checkpoint == exp / 'epoch_001.pth'
    assert main(['predict', str(exp), str(video), '--out', str(tmp_path / 's.csv'), '--frames', '4',
                 '--device', 'auto']) == 0
    assert f'using epoch 1 of 2 of {exp}: as a test says' in capsys.readouterr().err
    on_cli = pd.read_csv(tmp_path / 's.csv').label[0]
    assert on_cli == in_python.predict_video(video).fake_probability
    assert on_cli != Detector(exp / 'last.pth', frames=4).predict_video(video).fake_probability
    (exp / 'checkpoint.json').unlink()  # a run folder of an older version: its last epoch
    assert Detector(exp, frames=4).checkpoint == exp / 'last.pth'


def test_a_bad_device_is_one_line(tiny_checkpoint, demo_videos, capsys):
    video = sorted(demo_videos.glob('*/*.mp4'))[0]
    for device in ['gpu', 'cuda:x'] + ([] if torch.cuda.is_available() else ['cuda']):
        assert main(['predict', str(tiny_checkpoint), str(video), '--device', device]) == 2
        err = capsys.readouterr().err
        assert err.startswith('deepfake predict: --device') and 'Traceback' not in err

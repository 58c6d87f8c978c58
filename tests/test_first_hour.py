"""A newcomer's first hour (issue 39): help that answers at once, intervals that never pretend, tables that read alone."""
import re
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from deepfake.cli import COMMANDS
from deepfake.metrics import auc, bootstrap_ci, format_ci, log_loss, too_few_groups, with_ci

HEAVY = ('torch', 'cv2', 'pandas', 'fastai', 'facenet_pytorch', 'flask', 'timm', 'sklearn')


@pytest.mark.parametrize('argv', [[], *[[name] for name, *_ in COMMANDS]], ids=lambda a: ' '.join(a) or 'deepfake')
def test_help_imports_nothing_heavy(argv):
    "`deepfake [COMMAND] --help` and an argument error are answered by argparse alone: no torch, OpenCV or pandas."
    code = ('import sys; from deepfake.cli import main\n'
            'try:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n'
            f'print(sorted(m for m in {HEAVY!r} if m in sys.modules))')
    for extra in (['--help'], ['--no_such_flag']):
        out = subprocess.run([sys.executable, '-c', code, *argv, *extra], capture_output=True, text=True)
        assert out.stdout.strip().splitlines()[-1] == '[]', (argv, extra, out.stdout[-500:], out.stderr[-500:])


COMPILER = ('torch._dynamo', 'sympy', 'torchvision.transforms.v2', 'timm', 'fastai')


def test_predict_imports_no_compiler(tiny_checkpoint, demo_videos, tmp_path):
    """A cold `deepfake predict` (issue 39: 3 s) of a torchvision model never imports torch.compile's tracer
    (torch._dynamo, with sympy: over a second), which torchvision's ops, its v2 transforms and timm's models import
    when they are imported, nor timm or fastai."""
    video = sorted(demo_videos.rglob('*.mp4'))[0]
    code = ('import sys; from deepfake.cli import main\n'
            f'code = main(sys.argv[1:])\nprint(code, sorted(m for m in {COMPILER!r} if m in sys.modules))')
    out = subprocess.run([sys.executable, '-c', code, 'predict', str(tiny_checkpoint), str(video), '--frames', '4',
                          '--out', str(tmp_path / 'p.csv')], capture_output=True, text=True)
    assert out.stdout.strip().splitlines()[-1] == '0 []', (out.stdout[-500:], out.stderr[-500:])
    assert pd.read_csv(tmp_path / 'p.csv').label.between(0, 1).all()


def test_torchvision_without_dynamo_leaves_dynamo_whole():
    """`deepfake.import_torchvision`'s stand-in for torch._dynamo.utils is gone once torchvision is imported:
    roi_align's `is_compile_supported` answers as the real one does, and torch.compile still works."""
    code = """import sys
import torch
import deepfake.faces
assert 'torch._dynamo' not in sys.modules and 'torch._dynamo.utils' not in sys.modules
roi_align = sys.modules['torchvision.ops.roi_align']
asked = [roi_align.is_compile_supported(d) for d in ('cpu', 'cuda', 'mps')]
import torch._dynamo.utils
assert asked == [torch._dynamo.utils.is_compile_supported(d) for d in ('cpu', 'cuda', 'mps')], asked
assert torch.compile(lambda x: x * 2, backend='eager')(torch.ones(2)).tolist() == [2.0, 2.0]
import torchvision
boxes = torch.tensor([[0, 1.0, 1.0, 9.0, 9.0]])
assert torchvision.ops.roi_align(torch.rand(1, 3, 16, 16), boxes, 3).shape == (1, 3, 3, 3)
print('ok')"""
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True)
    assert out.stdout.strip() == 'ok', out.stderr[-1000:]


def test_predict_of_a_timm_model_imports_no_compiler(tiny_checkpoint, demo_videos, tmp_path):
    """A cold `deepfake predict` of a timm model (the recipes' `efficientnet_lite0`) imports timm, but through
    `deepfake.import_timm`: no torch._dynamo or sympy (1.1 s of timm's import); its collector is on again, with the
    imports frozen (`deepfake.cli.cold_imports`)."""
    import torch
    from deepfake.models import create_model
    ckpt = torch.load(tiny_checkpoint, weights_only=True)
    ckpt['args'] = {**ckpt['args'], 'model_name': 'efficientnet_lite0'}
    ckpt['model'] = create_model('efficientnet_lite0').state_dict()
    torch.save(ckpt, tmp_path / 'lite0.pth')
    video = sorted(demo_videos.rglob('*.mp4'))[0]
    code = ('import gc, sys; from deepfake.cli import main\n'
            'code = main(sys.argv[1:])\n'
            f'print(code, sorted(m for m in {COMPILER!r} if m in sys.modules), gc.isenabled(), gc.get_freeze_count() > 0)')
    out = subprocess.run([sys.executable, '-c', code, 'predict', str(tmp_path / 'lite0.pth'), str(video), '--frames',
                          '4', '--out', str(tmp_path / 'p.csv')], capture_output=True, text=True)
    assert out.stdout.strip().splitlines()[-1] == "0 ['timm'] True True", (out.stdout[-500:], out.stderr[-500:])


def test_timm_without_dynamo_leaves_dynamo_whole():
    """`deepfake.import_timm`'s lazy `torch.compiler.disable` is gone once timm is imported, and a method timm
    decorated with it (naflexvit's) runs as the undecorated one, with the real decoration applied at its first call."""
    code = """import sys
import torch
real = torch.compiler.disable
import deepfake
timm = deepfake.import_timm()
assert 'torch._dynamo' not in sys.modules and 'sympy' not in sys.modules
assert torch.compiler.disable is real
net = timm.create_model('naflexvit_base_patch16_gap', depth=1, embed_dim=64, num_heads=2, img_size=32).eval()
coord = torch.tensor([[[0, 0], [0, 1], [1, 0], [1, 1]]])
lazy, plain = torch.zeros(1, 4, 64), torch.zeros(1, 4, 64)
net.embeds._apply_learned_naflex_pos_embed(lazy, coord)
assert 'torch._dynamo' in sys.modules  # decorated for real at the first call
type(net.embeds)._apply_learned_naflex_pos_embed.__wrapped__(net.embeds, plain, coord)
assert torch.equal(lazy, plain) and lazy.abs().sum() > 0
x = torch.rand(1, 3, 32, 32)
assert torch.allclose(torch.compile(net, backend='eager')(x), net(x), atol=1e-5)
print('ok')"""
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True)
    assert out.stdout.strip() == 'ok', out.stderr[-1000:]


def test_one_group_has_no_interval():
    "A bootstrap over one group (or one real) has no spread to show: no interval, and the reason why."
    y, p = np.array([0, 1, 1, 1]), np.array([0.2, 0.9, 0.6, 0.4])
    for groups, why in [(['a'] * 4, 'no interval: 1 group'), (['r', 'f1', 'f2', 'f3'], 'no interval: 1 real group')]:
        assert np.isnan(bootstrap_ci(y, p, groups, auc)).all() and too_few_groups(y, groups, auc) == why
        assert format_ci(with_ci(y, p, groups, auc)) == f'{auc(y, p):.3f} ({why})'
    assert too_few_groups(y, ['r', 'f1', 'f2', 'f3'], log_loss) is None  # log loss needs no class pair
    two = ['r1', 'r1', 'f1', 'f2']
    y2 = np.array([0, 0, 1, 1])
    assert too_few_groups(y2, two, auc) == 'no interval: 1 real group'
    low, high = bootstrap_ci(np.array([0, 0, 1, 1]), np.array([0.1, 0.7, 0.6, 0.9]), ['r1', 'r2', 'f1', 'f2'], auc)
    assert low < high  # measured: two groups of each class


def test_evaluate_writes_a_table_that_reads_alone(tiny_checkpoint, demo_videos, demo_faces, tmp_path, capsys):
    from deepfake.cli import main
    split = pd.read_csv(demo_faces / 'videos_df.csv', dtype={'name': str})
    assert main(['evaluate', str(tiny_checkpoint), str(demo_videos), '--out', str(tmp_path / 'r'), '--frames', '4',
                 '--split_csv', str(demo_faces / 'videos_df.csv')]) == 0
    out = capsys.readouterr().out
    table = pd.read_csv(tmp_path / 'r' / 'predictions.csv', dtype={'name': str})
    assert list(table.columns) == ['name', 'filename', 'label', 'fake_probability', 'status', 'group', 'source', 'method']
    held_out = split[split.is_valid]
    assert sorted(table.name) == sorted(held_out.name)
    assert table.set_index('name').label.to_dict() == held_out.set_index('name').label.to_dict()
    assert table.fake_probability.between(0, 1).all() and (table.method.isna() == (table.label == 'REAL')).all()
    assert re.search(r'auc=\d\.\d{4}( \[\d\.\d{3}, \d\.\d{3}\]| \(no interval: \d+ (real |fake )?groups?\)) ', out), out

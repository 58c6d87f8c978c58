"""The operating threshold a run stores (issue 37): chosen on its held-out reals for each rule of `predict --aggregate`,
carried by exports, used by predict and serve to label videos, ranged when read back."""
import numpy as np
import pytest
import torch

from deepfake.checkpoints import load_checkpoint, save_checkpoint
from deepfake.metrics import confident_mean, operating_threshold, video_scores
from deepfake.predict import Detector, stored_threshold


def test_the_threshold_calls_its_share_of_reals_fake():
    reals = np.linspace(0.05, 0.95, 101)
    t = operating_threshold(reals, 0.1)
    assert (reals > t).mean() == pytest.approx(0.1, abs=0.01) and operating_threshold([], 0.1) is None


def test_video_scores_follow_the_rules_of_predict():
    frame_logits = torch.randn(3, 16, 2)
    video_logits = frame_logits.mean(1)
    scores = video_scores(frame_logits, video_logits)
    p = frame_logits.softmax(-1)[..., 1].numpy()
    assert np.allclose(scores['mean'], p.mean(1)) and np.allclose(scores['confident'], [confident_mean(q) for q in p])
    assert np.allclose(scores['model'], video_logits.softmax(-1)[:, 1].numpy())


def test_a_run_stores_its_threshold_and_predict_labels_by_it(tiny_checkpoint, demo_videos, tmp_path):
    ckpt = load_checkpoint(tiny_checkpoint)
    threshold = ckpt['threshold']
    assert threshold['target'] == 0.1 and threshold['reals'] >= 1
    assert set(threshold['by_aggregate']) == {'confident', 'mean', 'model'}
    assert all(0 <= v <= 1 for v in threshold['by_aggregate'].values())
    for aggregate in ('confident', 'model'):
        detector = Detector(tiny_checkpoint, frames=4, aggregate=aggregate)
        assert detector.threshold == threshold['by_aggregate'][aggregate]
    video = sorted(demo_videos.glob('*/*.mp4'))[0]
    for cut in (0.0, 1.0):  # the same score is FAKE above a threshold of 0 and REAL under one of 1
        save_checkpoint({**ckpt, 'threshold': {**threshold, 'by_aggregate': {'confident': cut}}}, tmp_path / 'c.pth')
        r = Detector(tmp_path / 'c.pth', frames=4).predict_video(video)
        assert r.threshold == cut and r.label == ('FAKE' if cut == 0.0 else 'REAL')
    assert stored_threshold(None, 'confident') == 0.5  # a run of an older version: 0.5


def test_an_export_carries_the_threshold(tiny_checkpoint, tmp_path):
    from deepfake.export import export_model, read_sidecar
    out = export_model(tiny_checkpoint, tmp_path / 'm.torchscript.pt', format='torchscript')
    assert read_sidecar(out)['threshold'] == load_checkpoint(tiny_checkpoint)['threshold']
    assert Detector(out, frames=4).threshold == load_checkpoint(tiny_checkpoint)['threshold']['by_aggregate']['confident']


@pytest.mark.parametrize('bad', [dict(by_aggregate=dict(confident=7)), 'high', dict(by_aggregate=[0.5])])
def test_a_threshold_out_of_range_is_refused(tiny_checkpoint, tmp_path, bad):
    save_checkpoint({**load_checkpoint(tiny_checkpoint), 'threshold': bad}, tmp_path / 'c.pth')
    with pytest.raises(ValueError, match='threshold'):
        load_checkpoint(tmp_path / 'c.pth')

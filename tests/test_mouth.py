"""Arm b of issue 37, the mouth over time: mouth crops cut by MTCNN's landmarks wherever a model that reads mouths is
fed (training, validation, predict, cross-validation scoring, benchmark, export), and the option stored and ranged."""
import json

import numpy as np
import pytest
import torch

from conftest import shared_data
from deepfake.augment import MOUTH_CENTRE, MOUTH_SIDE, ClipAugment, mouth_boxes, mouth_clips, prepare_clips
from deepfake.callbacks import augment_batch
from deepfake.checkpoints import check_data_config, data_config, load_checkpoint, save_checkpoint
from deepfake.predict import Detector

NAN = float('nan')


def points_at(left, right, frames=3):
    "Landmarks of `frames` frames whose mouth corners are `left` and `right` (eyes and nose anywhere above)."
    p = torch.tensor([[60., 60.], [120., 60.], [90., 90.], left, right])
    return p.expand(1, frames, 5, 2).clone()


def test_the_mouth_box_is_centred_on_the_corners_and_twice_their_distance_wide():
    boxes = mouth_boxes(points_at([70., 150.], [130., 150.]), 224)
    assert boxes.shape == (1, 3, 3) and torch.allclose(boxes[0, 0], torch.tensor([100., 150., 120.]))


def test_frames_without_landmarks_take_their_clip_median_and_clips_without_any_the_average_place():
    points = points_at([70., 150.], [130., 150.])
    points[0, 1] = NAN
    assert torch.allclose(mouth_boxes(points, 224)[0, 1], torch.tensor([100., 150., 120.]))
    unknown = mouth_boxes(torch.full((1, 2, 5, 2), NAN), 200)[0]
    assert torch.allclose(unknown, torch.tensor([MOUTH_CENTRE[0] * 200, MOUTH_CENTRE[1] * 200, MOUTH_SIDE * 200]))


def test_mouth_clips_cut_the_mouth_at_the_model_size():
    clip = torch.zeros(2, 3, 3, 224, 224, dtype=torch.uint8)
    clip[..., 140:160, 90:110] = 255  # a white square on the mouth, black elsewhere
    points = points_at([70., 150.], [130., 150.]).expand(2, -1, -1, -1)
    mouths = mouth_clips(clip, points, 48)
    assert mouths.shape == (2, 3, 3, 48, 48) and mouths.dtype == torch.uint8
    assert (mouths[..., 22:26, 22:26] == 255).all() and (mouths[..., :4, :4] == 0).all()
    x = prepare_clips(clip, 48, (0.5,) * 3, (0.5,) * 3, points, 'mouth')
    assert x.shape == (2, 3, 3, 48, 48) and x.dtype == torch.float32


def test_training_batches_are_cut_before_they_are_augmented():
    clips = torch.randint(0, 256, (3, 2, 3, 64, 64), dtype=torch.uint8)
    points = points_at([20., 48.], [44., 48.], 2).expand(3, -1, -1, -1)
    out, _, y = augment_batch(clips, points, torch.tensor([0, 1, 0]), ClipAugment(32, 'light'), region='mouth')
    assert out.shape == (3, 2, 3, 32, 32) and y.tolist() == [0, 1, 0]


@pytest.fixture(scope='module')
def mouth_checkpoint(demo_faces, tmp_path_factory):
    "A one-epoch EfficientNet-Lite0+GRU reading mouths of the demo faces."
    from deepfake.args import parse_args
    from deepfake.trainer import train
    out = tmp_path_factory.mktemp('mouth')
    train(parse_args(['--root_dir', str(demo_faces), '--save_model_path', str(out), '--exp_name', 'mouth',
                      '--epochs', '1', '--batch_size', '4', '--workers', '0', '--input_size', '32', '--video_len', '4',
                      '--model_name', 'efficientnet_lite0', '--temporal', 'gru', '--region', 'mouth',
                      '--hidden_size', '16', '--embed_dim', '32']))
    return out / 'mouth' / 'best.pth'


def test_a_mouth_run_stores_its_region_and_predict_follows_it(mouth_checkpoint, tmp_path):
    ckpt = load_checkpoint(mouth_checkpoint)
    assert ckpt['data_cfg']['region'] == 'mouth' and ckpt['args']['region'] == 'mouth'
    video = sorted(shared_data('ffpp_c23').glob('original_sequences/youtube/c23/videos/*.mp4'))[0]
    detector = Detector(mouth_checkpoint, frames=4, explain=True)
    assert detector.region == 'mouth'
    r = detector.predict_video(video)  # a real FF++ video: its faces found, their mouths cut, scored
    assert r.status == 'ok' and 0 <= r.fake_probability <= 1
    assert r.heatmaps and all(overlay.shape == (32, 32, 3) for _, overlay in r.heatmaps)  # over the mouths read


def test_a_run_older_than_the_option_reads_faces(tiny_checkpoint):
    ckpt = load_checkpoint(tiny_checkpoint)
    old = {**ckpt, 'data_cfg': {k: v for k, v in ckpt['data_cfg'].items() if k != 'region'},
           'args': {k: v for k, v in ckpt['args'].items() if k != 'region'}}
    assert data_config(old)['region'] == 'face'


@pytest.mark.parametrize('bad', ['nose', 3, ['mouth']])
def test_a_stored_region_is_ranged_as_the_flag_is(mouth_checkpoint, tmp_path, bad):
    ckpt = load_checkpoint(mouth_checkpoint)
    with pytest.raises(ValueError, match='region'):
        check_data_config({**ckpt['data_cfg'], 'region': bad}, 'stored')
    save_checkpoint({**ckpt, 'data_cfg': {**ckpt['data_cfg'], 'region': bad}}, tmp_path / 'c.pth')
    with pytest.raises(ValueError, match='region'):
        load_checkpoint(tmp_path / 'c.pth')


def test_an_export_reads_mouths_as_the_checkpoint_does(mouth_checkpoint, demo_faces, tmp_path):
    from deepfake.export import check_export, dataset_clips, export_model, read_sidecar
    out = export_model(mouth_checkpoint, tmp_path / 'm.torchscript.pt', format='torchscript')
    meta = read_sidecar(out)
    assert meta['region'] == 'mouth' and Detector(out, frames=4).region == 'mouth'
    clips, labels = dataset_clips(demo_faces, meta)
    assert clips.shape[-1] == 32 and check_export(mouth_checkpoint, out, clips)['max_prob_diff'] < 1e-4
    meta['region'] = 'ears'
    (tmp_path / 'm.torchscript.pt.json').write_text(json.dumps(meta))
    with pytest.raises(ValueError, match='region'):
        read_sidecar(out)


def test_cross_validation_and_benchmark_score_mouths(mouth_checkpoint, demo_faces):
    from deepfake.benchmark import frame_scores
    from deepfake.checkpoints import load_model
    from deepfake.crossval import score_clips
    from deepfake.video_dataset import clip_landmarks, open_clip
    scores = score_clips(mouth_checkpoint, demo_faces, 'videos_df.csv', split='all')
    assert len(scores) and scores.fake_probability.between(0, 1).all()
    model, ckpt = load_model(mouth_checkpoint)
    path = sorted((demo_faces / 'clips').glob('*[!s].npy'))[0]
    points = clip_landmarks(path)
    p = frame_scores(model, data_config(ckpt, model), open_clip(path), points=points)
    assert len(p) == len(points) and np.all((p >= 0) & (p <= 1))
    with pytest.raises(ValueError, match='landmarks of 2 frames'):
        frame_scores(model, data_config(ckpt, model), open_clip(path), points=points[:2])

"detect_faces gives facenet-pytorch's MTCNN answers, on real clips and on frames with no face."
import numpy as np
import pytest
import torch
from facenet_pytorch import MTCNN

from conftest import shared_data
from deepfake.faces import FaceExtractor
from deepfake.mtcnn import detect_faces
from deepfake.video_io import read_frames


def facenet(frames, mtcnn):
    "facenet-pytorch's own boxes (with probability) and landmarks per frame, empty arrays where it found none."
    boxes, probs, points = mtcnn.detect(frames, landmarks=True)
    return [(np.zeros((0, 5)), np.zeros((0, 5, 2))) if b is None else
            (np.c_[np.asarray(b, float), np.asarray(p, float)], np.asarray(q, float))
            for b, p, q in zip(boxes, probs, points)]


@pytest.mark.parametrize('clip', ['dfdc_sample/dfdc_train_part_10/yhffcuhhjy.mp4',  # two people
                                  'dfdc_sample/dfdc_train_part_0/brtujopkby.mp4',
                                  'ffpp_c23/original_sequences/youtube/c23/videos/980.mp4'])
def test_same_faces_as_facenet_pytorch(clip):
    folder, rest = clip.split('/', 1)
    path = shared_data(folder) / rest
    if not path.exists():
        pytest.skip(f'{path} is absent')
    extractor = FaceExtractor()
    frames = np.stack([extractor.downscale(f)[0] for f in read_frames(path, frames=8).images])
    with torch.inference_mode():  # facenet-pytorch's answer for each frame alone: its batches shift boxes by offsets
        ours, theirs = detect_faces(frames, extractor.mtcnn), [facenet(f[None], extractor.mtcnn)[0] for f in frames]
        alone = [detect_faces(f[None], extractor.mtcnn)[0] for f in frames]
    assert sum(len(b) for b, _ in theirs) >= 8
    for (b, q), (tb, tq), (ab, aq) in zip(ours, theirs, alone):
        assert b.shape == tb.shape and q.shape == tq.shape
        assert np.allclose(b, tb, rtol=0, atol=1e-3) and np.allclose(q, tq, rtol=0, atol=1e-3)  # pixels, probability
        # a frame's faces do not depend on its batch (the networks' float rounding does, in the last bit)
        assert np.allclose(b, ab, rtol=0, atol=1e-4) and np.allclose(q, aq, rtol=0, atol=1e-4)


def test_no_face_and_tiny_frames():
    mtcnn = MTCNN(keep_all=True, device='cpu')
    blank = np.zeros((2, 120, 160, 3), np.uint8)
    tiny = np.zeros((1, 10, 10, 3), np.uint8)  # smaller than the smallest face: no pyramid at all
    for frames in (blank, tiny):
        found = detect_faces(frames, mtcnn)
        assert len(found) == len(frames)
        assert all(b.shape == (0, 5) and q.shape == (0, 5, 2) for b, q in found)

"""The seeds' way to a video's faces, the baseline both `bench/preprocess.py` and `bench/predict.py` time the library
against (written here the way a seed did it): OpenCV reads every frame, and facenet-pytorch's MTCNN
(`margin=14, keep_all=True, thresholds=[0.9, 0.9, 0.9]`) runs on each sampled full-resolution frame, one video at a
time. Not a benchmark itself: the two import it (a script's own folder is on `sys.path`)."""
import cv2
from facenet_pytorch import MTCNN

from deepfake.video_io import sample_indices


def seeds_mtcnn(device):
    "The seeds' MTCNN: every face of a frame, largest first, the thresholds of their READMEs."
    return MTCNN(margin=14, keep_all=True, thresholds=[0.9, 0.9, 0.9], device=device)


def seeds_detections(path, frames, mtcnn):
    "`(index, RGB frame, boxes or None, probabilities)` of each of the `frames` sampled frames of a video."
    cap = cv2.VideoCapture(str(path))
    keep = set(sample_indices(int(cap.get(cv2.CAP_PROP_FRAME_COUNT)), frames).tolist())
    try:
        i = 0
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            if i in keep:
                rgb = frame[..., ::-1].copy()
                yield (i, rgb, *mtcnn.detect(rgb))
            i += 1
    finally:
        cap.release()

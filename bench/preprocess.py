"""Preprocessing throughput: the library's `preprocess` against the seeds' way, in one run, on real videos.

    python bench/preprocess.py [--frames 32] [--ffpp 8] [--workers 1]

Baseline (written here the way a seed did it): OpenCV reads every frame, and facenet-pytorch's MTCNN
(`margin=14, keep_all=True, thresholds=[0.9, 0.9, 0.9]`) runs on each sampled full-resolution frame,
one video at a time. Library: `deepfake.preprocess.preprocess` with its defaults (crops written too).
Face recall: the share of the baseline's faces that the library's extractor also finds (IoU >= 0.5).
Prints one summary line at the end; fails only on a crash.
"""
import argparse
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import torch
from facenet_pytorch import MTCNN

from deepfake.faces import FaceExtractor, box_iou
from deepfake.preprocess import preprocess
from deepfake.sources import read_source
from deepfake.video_io import read_frames, sample_indices

DATA = Path(__file__).resolve().parents[1].parent / 'shared' / 'data'


def baseline(path, frames, mtcnn):
    "The seeds' way: decode every frame with OpenCV, MTCNN on each sampled full-resolution frame."
    cap = cv2.VideoCapture(str(path))
    keep = set(sample_indices(int(cap.get(cv2.CAP_PROP_FRAME_COUNT)), frames).tolist())
    boxes, i = [], 0
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        if i in keep:
            b, _ = mtcnn.detect(frame[..., ::-1].copy())
            boxes.append(np.zeros((0, 4)) if b is None else b)
        i += 1
    return boxes


def recall(reference, found):
    "Share of reference boxes matched by a found box of the same frame with IoU >= 0.5."
    hits = total = 0
    for ref, got in zip(reference, found):
        total += len(ref)
        if len(ref) and len(got):
            hits += int((box_iou(ref, got).max(axis=1) >= 0.5).sum())
    return hits / max(total, 1)


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--frames', type=int, default=32)
    p.add_argument('--ffpp', type=int, default=8, help='FaceForensics++ videos to add (0: DFDC only)')
    p.add_argument('--workers', type=int, default=1, help="the library's --workers (the baseline runs one video at a time)")
    args = p.parse_args()
    table = read_source(DATA / 'dfdc_sample')
    table = table[table.status != 'missing']
    if args.ffpp:
        ffpp = read_source(DATA / 'ffpp_c23')
        table = pd.concat([table, ffpp.sample(args.ffpp, random_state=0)], ignore_index=True)
    print(f'{len(table)} videos, {args.frames} frames each, {torch.get_num_threads()} torch threads')

    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        index = preprocess(table, out, frames=args.frames, workers=args.workers, progress=False)
        library_s = (time.perf_counter() - start) / len(table)
    # each video's own seconds (decode, faces, writing) split the wall time between the two sets
    dfdc = index.source == 'dfdc'
    dfdc_s = library_s * index.seconds[dfdc].mean() / index.seconds.mean()

    mtcnn = MTCNN(margin=14, keep_all=True, thresholds=[0.9, 0.9, 0.9], device='cpu')
    start, reference = time.perf_counter(), {}
    for row in table.itertuples():
        reference[row.name] = baseline(row.path, args.frames, mtcnn)
    baseline_s = (time.perf_counter() - start) / len(table)

    extractor, rates = FaceExtractor(), []
    for row in table.itertuples():
        images = read_frames(row.path, frames=args.frames).images
        boxes, *_ = extractor.detect(images)
        rates.append(recall(reference[row.name], boxes))
    face_recall = float(np.mean(rates))
    print(f'preprocess: library {library_s:.2f} s/video ({60 / library_s:.1f} videos/min; DFDC 1080p clips '
          f'{60 / dfdc_s:.1f} videos/min, target >= 45; --workers {args.workers}), '
          f'baseline {baseline_s:.2f} s/video ({60 / baseline_s:.1f} videos/min), '
          f'speed-up {baseline_s / library_s:.2f}x, face recall vs baseline {face_recall:.3f} (target >= 0.98)')


if __name__ == '__main__':
    main()

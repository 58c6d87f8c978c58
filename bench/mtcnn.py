"""The detector alone: facenet-pytorch's `MTCNN.detect` against `deepfake.mtcnn.detect_faces` (same networks, the
refine stages' inputs cut for all boxes at once), on the sampled frames of each DFDC 1080p clip as the library
detects them (640-px copies), alternated in one run; both answers compared.

    python bench/mtcnn.py [--frames 8] [--threads 2] [--runs 3]
"""
import argparse
import time
from pathlib import Path

import numpy as np
import torch

from deepfake.faces import FaceExtractor
from deepfake.mtcnn import detect_faces
from deepfake.sources import read_source
from deepfake.video_io import read_frames

DATA = Path(__file__).resolve().parents[1].parent / 'shared' / 'data'


def seconds(fn, runs):
    "The fastest of `runs` timed calls (the first call, the networks' warm-up, left out)."
    fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--frames', type=int, default=8)
    p.add_argument('--threads', type=int, default=2)
    p.add_argument('--runs', type=int, default=3)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    dfdc = read_source(DATA / 'dfdc_sample')
    extractor = FaceExtractor()
    theirs_s, ours_s = [], []
    for row in dfdc[dfdc.status != 'missing'].itertuples():
        frames = np.stack([extractor.downscale(f)[0] for f in read_frames(row.path, frames=args.frames).images])
        with torch.inference_mode():
            theirs_s.append(seconds(lambda: extractor.mtcnn.detect(frames, landmarks=True), args.runs))
            ours_s.append(seconds(lambda: detect_faces(frames, extractor.mtcnn), args.runs))
            boxes, _, _ = extractor.mtcnn.detect(frames, landmarks=True)
            ours = detect_faces(frames, extractor.mtcnn)
        gap = max((np.abs(np.asarray(b, float) - o[:, :4]).max() for b, (o, _) in zip(boxes, ours) if b is not None),
                  default=0.0)
        print(f'{row.name}: MTCNN.detect {theirs_s[-1]:.3f} s, detect_faces {ours_s[-1]:.3f} s, '
              f'largest box difference {gap:.1e} px')
    print(f'mtcnn: {len(ours_s)} DFDC clips x {args.frames} frames, {args.threads} threads: MTCNN.detect '
          f'{sum(theirs_s):.2f} s, detect_faces {sum(ours_s):.2f} s ({1 - sum(ours_s) / sum(theirs_s):.0%} less)')


if __name__ == '__main__':
    main()

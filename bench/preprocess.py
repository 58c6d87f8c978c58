"""Preprocessing throughput: the library's `preprocess` against the seeds' way, in one run, on real videos.

    python bench/preprocess.py [--frames 32] [--repeat 4] [--ffpp 8] [--workers N] [--device auto]
                               [--detect_server on|off]

On a GPU machine, `--repeat 50` makes the steady-state folder 200 clips. `--detect_server off` measures each worker
with its own MTCNN (the default: detector processes, one for every 2 workers on the CPU, one for all on a GPU).

Baseline (`bench/seeds.py`, written the way a seed did it): OpenCV reads every frame, and facenet-pytorch's MTCNN
(`margin=14, keep_all=True, thresholds=[0.9, 0.9, 0.9]`) runs on each sampled full-resolution frame,
one video at a time. Library: `deepfake.preprocess.preprocess` with its defaults (crops written too; `--workers`:
what the library picks for the larger run, `auto_workers`, used for both runs). Steady state: the slope between a
run over the DFDC 1080p clips once and one over `--repeat` copies of them, so the start-up (spawning workers,
loading the detector) drops out; it is reported apart. Face recall: the share of the baseline's faces that the
library's extractor also finds (IoU >= 0.5). Peak memory: a fresh process running `preprocess` on one 1080p clip
at 4, 32 and 300 frames, its peak RSS (what one worker costs). Prints one summary line at the end.
"""
import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from deepfake.faces import FaceExtractor, box_iou
from deepfake.models import pick_device
from deepfake.preprocess import auto_workers, preprocess
from deepfake.sources import read_source, read_sources
from deepfake.video_io import read_frames
from seeds import seeds_detections, seeds_mtcnn  # bench/seeds.py, beside this script

DATA = Path(__file__).resolve().parents[1].parent / 'shared' / 'data'


def baseline(path, frames, mtcnn):
    "The seeds' boxes of each sampled frame (see `bench/seeds.py`)."
    return [np.zeros((0, 4)) if boxes is None else boxes for *_, boxes, _ in seeds_detections(path, frames, mtcnn)]


# VmHWM, not getrusage's ru_maxrss: Linux carries ru_maxrss over an exec, so a child of this (by then large) process
# would report this process's size; VmHWM is the new process's own peak.
MEMORY = """import re, sys, tempfile
from deepfake.preprocess import preprocess
from deepfake.sources import read_source
preprocess(read_source(sys.argv[1]), tempfile.mkdtemp(), frames=int(sys.argv[2]), device=sys.argv[3], progress=False)
print(re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()).group(1))
"""


def peak_rss_mb(clip, frames, device):
    "Peak RSS (MB) of a fresh process that preprocesses `clip` at `frames` frames: what one worker costs."
    out = subprocess.run([sys.executable, '-c', MEMORY, str(clip), str(frames), str(device)], capture_output=True,
                         text=True, check=True)
    return int(out.stdout.split()[-1]) / 1024


def repeated(clips, copies, folder):
    "A folder holding `copies` copies of each clip under distinct names, for a steady-state measure."
    folder.mkdir()
    for k in range(copies):
        for clip in clips:
            shutil.copy(clip, folder / f'{Path(clip).stem}_{k}.mp4')
    return folder


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
    p.add_argument('--repeat', type=int, default=4, help='copies of each DFDC clip for the steady state')
    p.add_argument('--ffpp', type=int, default=8, help='FaceForensics++ videos to add to the recall set (0: DFDC only)')
    p.add_argument('--workers', type=int, help="the library's --workers (default: its own choice; the baseline runs "
                                               "one video at a time)")
    p.add_argument('--device', default='auto')
    p.add_argument('--detect_server', choices=['on', 'off'], default='on',
                   help='off: each worker runs its own MTCNN instead of asking detector processes')
    args = p.parse_args()
    detect_server = args.detect_server != 'off'
    device = pick_device(args.device)
    dfdc = read_source(DATA / 'dfdc_sample')
    dfdc = dfdc[dfdc.status != 'missing']
    table = pd.concat([dfdc, read_source(DATA / 'ffpp_c23').sample(args.ffpp, random_state=0)], ignore_index=True) \
        if args.ffpp else dfdc
    print(f'{len(dfdc)} DFDC 1080p clips x {args.repeat} for the steady state, {len(table)} videos for recall, '
          f'{args.frames} frames each, {device}, {torch.get_num_threads()} torch threads')

    walls = {}
    workers = args.workers or auto_workers(len(dfdc) * args.repeat)
    with tempfile.TemporaryDirectory() as tmp:
        for copies in (1, args.repeat):
            clips = read_sources([repeated(dfdc.path, copies, Path(tmp) / f'clips{copies}')])
            start = time.perf_counter()
            preprocess(clips, Path(tmp) / f'faces{copies}', frames=args.frames, workers=workers, device=device,
                       detect_server=detect_server, progress=False)
            walls[copies] = time.perf_counter() - start
    library_s = (walls[args.repeat] - walls[1]) / (len(dfdc) * (args.repeat - 1))  # steady: the slope
    startup = walls[1] - len(dfdc) * library_s  # spawning workers, loading the detector, its first calls

    mtcnn = seeds_mtcnn(device)
    reference, baseline_times = {}, []
    for row in table.itertuples():
        start = time.perf_counter()
        reference[row.name] = baseline(row.path, args.frames, mtcnn)
        baseline_times.append(time.perf_counter() - start)
    dfdc_times = [t for t, source in zip(baseline_times, table.source) if source == 'dfdc']
    baseline_s = float(np.mean(dfdc_times[1:] or dfdc_times))  # the first one warms MTCNN up

    extractor, rates = FaceExtractor(device=device), []
    for row in table.itertuples():
        images = read_frames(row.path, frames=args.frames).images
        boxes, *_ = extractor.detect(images)
        rates.append(recall(reference[row.name], boxes))
    face_recall = float(np.mean(rates))
    memory = {n: peak_rss_mb(dfdc.path.iloc[0], n, device) for n in (4, 32, 300)}
    growth = (memory[300] - memory[4]) / 296
    print(f'preprocess: DFDC 1080p clips, steady state: library {library_s:.2f} s/video ({60 / library_s:.1f} '
          f'videos/min, target >= 45; --workers {workers}, detector processes {args.detect_server}; start-up '
          f'{startup:.1f} s more), baseline '
          f'{baseline_s:.2f} s/video ({60 / baseline_s:.1f} videos/min), speed-up {baseline_s / library_s:.2f}x; '
          f'face recall vs baseline {face_recall:.3f} over {len(table)} videos (target >= 0.98); peak RSS of one worker '
          f'{memory[4]:.0f} / {memory[32]:.0f} / {memory[300]:.0f} MB at 4 / 32 / 300 frames, {growth:.2f} MB a frame '
          f'(targets <= 1200 MB at 300, <= 0.7 MB a frame)')


if __name__ == '__main__':
    main()

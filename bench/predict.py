"""Inference latency: one 10-s 1080p DFDC clip end to end (decode -> faces -> model -> score), and a folder's throughput.

    python bench/predict.py [--checkpoint CK] [--model_name efficientnet_lite0 --input_size 160 --video_len 8]
                            [--frames 32] [--repeat 3] [--ffpp 8] [--device auto]

Without `--checkpoint` the model is random-initialized: the weights do not change the time. The latency is the
median of `--repeat` runs of `Detector.predict_table` on the clip after one warm-up, split into its parts (decode,
face detection and crops, model). The seeds' way on the same clip, warm, once (`bench/seeds.py`, as
bench/preprocess.py's baseline: OpenCV reads every frame, facenet-pytorch's MTCNN on each sampled full-resolution
frame), the largest face of each frame cropped and scored by the same model. The folder is the DFDC sample plus
`--ffpp` FaceForensics++ videos, through
`predict_table` as `deepfake predict` runs it (the next video decodes while this one is scored). Cold start: a fresh
`deepfake predict` process on the clip, wall time (imports, model and detector loading included) and its peak RSS.
For one video decoding and detection overlap (a decoder thread feeds the detector), so `faces` is the two together
and `decode` the decoder alone (FFmpeg's threads, all 32 frames to RGB). Prints one summary line at the end; fails
only on a crash.
"""
import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import torch

from deepfake.args import parse_args
from deepfake.faces import Face, crop_face
from deepfake.models import create_model, pick_device
from deepfake.predict import Detector, predict_table
from deepfake.sources import read_source
from deepfake.video_io import read_frames
from seeds import seeds_detections, seeds_mtcnn  # bench/seeds.py, beside this script

DATA = Path(__file__).resolve().parents[1].parent / 'shared' / 'data'
CLIP = DATA / 'dfdc_sample' / 'dfdc_train_part_0' / 'brtujopkby.mp4'  # 1920×1080, 300 frames


def random_checkpoint(folder, model_name, input_size, video_len, frames):
    "A checkpoint of a random-initialized model, with the preprocessing settings the detector reads."
    args = parse_args(['--model_name', model_name, '--input_size', str(input_size), '--video_len', str(video_len)])
    model = create_model(model_name)
    path = Path(folder) / 'random.pth'
    torch.save(dict(model=model.state_dict(), args=vars(args), epoch=0, metrics=[],
                    preprocess=dict(frames=frames)), path)
    return path


# VmHWM, not getrusage's ru_maxrss: Linux carries ru_maxrss over an exec, so a child started by a big parent reports
# the parent's size; VmHWM is the new process's own peak.
COLD = """import re, sys, time
start = time.perf_counter()
from deepfake.cli import main
code = main(['predict', sys.argv[1], sys.argv[2], '--frames', sys.argv[3], '--device', sys.argv[4], '--out', sys.argv[5]])
hwm = re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()).group(1)
print(time.perf_counter() - start, hwm, code)
"""


def cold_start(checkpoint, frames, device, out):
    "Wall seconds (from the start of Python's imports) and peak RSS (MB) of a fresh `deepfake predict` of the clip."
    start = time.perf_counter()
    run = subprocess.run([sys.executable, '-c', COLD, str(checkpoint), str(CLIP), str(frames), str(device), str(out)],
                         capture_output=True, text=True, check=True)
    *_, inside, rss, code = run.stdout.split()
    return time.perf_counter() - start, int(rss) / 1024


def timed(fn, *args):
    start = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - start


def seeds_way(path, detector, mtcnn):
    "P(FAKE) of one video the seeds' way (see `bench/seeds.py`), the largest face of each sampled frame scored."
    faces = [Face(i, 0, tuple(boxes[0]), float(probs[0]), crop_face(rgb, boxes[0], detector.extractor.margin,
                                                                     detector.extractor.face_size))
             for i, rgb, boxes, probs in seeds_detections(path, detector.frames, mtcnn) if boxes is not None]
    return detector.video_score(*detector.score_faces(faces)) if faces else None


def latency(detector, record, repeat):
    "Median seconds of the whole prediction and of its parts for one video."
    runs = []
    for i in range(repeat + 1):
        _, decode = timed(read_frames, record['path'], detector.frames, detector.interval)
        extracted, faces = timed(detector.faces, record)  # decode and detection, overlapped, and crops
        result, model = timed(detector.result, record, extracted)
        _, total = timed(predict_table, detector, pd.DataFrame([record]), False)
        if i:  # the first run warms up
            runs.append(dict(total=total, decode=decode, faces=faces, model=model, score=result.fake_probability))
    return {k: statistics.median(r[k] for r in runs) for k in runs[0]}


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--checkpoint', default=None, help='a trained checkpoint (default: a random-initialized model)')
    p.add_argument('--model_name', default='efficientnet_lite0')
    p.add_argument('--input_size', type=int, default=160)
    p.add_argument('--video_len', type=int, default=8)
    p.add_argument('--frames', type=int, default=32, help='frames sampled per video')
    p.add_argument('--repeat', type=int, default=3)
    p.add_argument('--ffpp', type=int, default=8, help='FaceForensics++ videos added to the folder')
    p.add_argument('--device', default='auto')
    args = p.parse_args()
    device = pick_device(args.device)
    if not CLIP.exists():
        print(f'predict: {CLIP} is absent, nothing to measure')
        return
    with tempfile.TemporaryDirectory() as tmp:
        checkpoint = args.checkpoint or random_checkpoint(tmp, args.model_name, args.input_size, args.video_len,
                                                          args.frames)
        detector = Detector(checkpoint, frames=args.frames, device=device)
        print(f'{detector.model_name} at {detector.input_size} px, {detector.video_len} frames a clip, '
              f'{detector.frames} frames sampled, {device}, {torch.get_num_threads()} torch threads')
        cold, rss = cold_start(checkpoint, args.frames, device, Path(tmp) / 'cold.csv')
        print(f'cold start: a fresh `deepfake predict` of the clip {cold:.2f} s, peak RSS {rss:.0f} MB')
        record = dict(path=str(CLIP), name=CLIP.stem, label='FAKE', status='ok')
        one = latency(detector, record, args.repeat)
        print(f'one 1080p clip: {one["total"]:.2f} s (decode {one["decode"]:.2f}, faces {one["faces"]:.2f}, '
              f'model and score {one["model"]:.2f})')
        mtcnn = seeds_mtcnn(device)
        mtcnn.detect(torch.zeros(160, 160, 3, dtype=torch.uint8).numpy())  # a warm-up, as the library had
        _, seeds = timed(seeds_way, CLIP, detector, mtcnn)
        print(f"the seeds' way: {seeds:.2f} s, {seeds / one['total']:.1f}x the library's time")

        table = read_source(DATA / 'dfdc_sample')
        table = table[table.status != 'missing']
        if args.ffpp and (DATA / 'ffpp_c23').is_dir():
            table = pd.concat([table, read_source(DATA / 'ffpp_c23').sample(args.ffpp, random_state=0)])
        results, seconds = timed(predict_table, detector, table, False)
        errors = sum(not r.scored for r in results)
    print(f'predict: one 10-s 1080p clip {one["total"]:.2f} s end to end, warm (target <= 2 s; decode alone '
          f'{one["decode"]:.2f}, decode and faces {one["faces"]:.2f}, model {one["model"]:.2f}; the seeds\' way '
          f'{seeds:.2f} s, {seeds / one["total"]:.1f}x); cold process {cold:.2f} s, '
          f'peak RSS {rss:.0f} MB (target <= 1100); folder of {len(results)} videos {seconds / len(results):.2f} s/video, '
          f'{60 * len(results) / seconds:.1f} videos/min, {errors} errors')


if __name__ == '__main__':
    main()

"""Preprocessing throughput: the library's `preprocess` against the seeds' way, in one run, on real videos.

    python bench/preprocess.py [--frames 32] [--repeat 4] [--ffpp 8] [--workers N] [--device auto]
                               [--detect_server on|off]
    python bench/preprocess.py --against winner [--rounds 2] [--profile]
    python bench/preprocess.py --profile [--rounds 2]

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

`--against winner`: the comparison of record, against `../shared/bench/dfdc_winner_baseline.py 0.25` (the script a
DFDC competitor would write: OpenCV decodes every frame, MTCNN on 30 frames at a quarter of 1080p, nothing saved).
Both run as fresh processes on 4 and on 12 copies of the DFDC clips, alternated (library, script, library, script;
the order reversed every other round); each one's steady state is the slope between the two, its start-up the rest.
Prints both, the ratio of videos a minute, and the CPU seconds a video (the processes and their children).

`--profile`: where each one's time goes, per stage, in CPU seconds a video on the 4 DFDC clips, alternated: the
library as one worker runs it (1 torch thread, 1 decoding thread, MTCNN in the same process), the script as it runs
(its 2 torch threads, OpenCV's decoding threads), each under `cProfile` with a CPU-time clock, every function's own
time given to the stage of its nearest caller named in `LIBRARY_STAGES` / `SCRIPT_STAGES`. With `--against`, the
table gets what one process cannot show: the hand-off between processes (CPU seconds a video of the real run beyond
the profile's), the idle cores, and the start-up.
"""
import argparse
import contextlib
import cProfile
import json
import os
import pstats
import resource
import runpy
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
from deepfake.preprocess import auto_workers, preprocess, process_video
from deepfake.sources import read_source, read_sources
from deepfake.video_io import read_frames
from seeds import seeds_detections, seeds_mtcnn  # bench/seeds.py, beside this script

DATA = Path(__file__).resolve().parents[1].parent / 'shared' / 'data'
CORES = os.cpu_count()
WINNER = Path(__file__).resolve().parents[1].parent / 'shared' / 'bench' / 'dfdc_winner_baseline.py'


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


# --profile: a function's own time goes to the stage of its nearest caller named here ((file name, function): stage)
STAGES = ['start-up', 'decode', 'colour conversion', 'detection (downscale, MTCNN)', 'landmarks, tracking',
          'crop and resize', 'JPEG encode', 'clip, crops and row writing', 'other']
LIBRARY_STAGES = {
    ('video_io.py', 'decode'): 'decode', ('video_io.py', '__init__'): 'decode', ('video_io.py', '_open'): 'decode',
    ('video_io.py', 'rgb'): 'colour conversion', ('video_io.py', '__getitem__'): 'colour conversion',
    ('faces.py', 'downscale'): 'detection (downscale, MTCNN)',
    ('faces.py', 'detect_small'): 'detection (downscale, MTCNN)',
    ('faces.py', 'mtcnn'): 'start-up',
    ('faces.py', 'assign_tracks'): 'landmarks, tracking', ('faces.py', 'interpolate_boxes'): 'landmarks, tracking',
    ('faces.py', 'face'): 'landmarks, tracking', ('faces.py', 'track_landmarks'): 'landmarks, tracking',
    ('faces.py', 'detections'): 'landmarks, tracking', ('faces.py', '_detected'): 'landmarks, tracking',
    ('faces.py', '_between'): 'landmarks, tracking', ('faces.py', '__call__'): 'landmarks, tracking',
    ('faces.py', 'crop_face'): 'crop and resize',
    ('~', '<imencode>'): 'JPEG encode',
    ('preprocess.py', 'process_video'): 'clip, crops and row writing',
}
SCRIPT_STAGES = {
    ('dfdc_winner_baseline.py', 'frames'): 'decode', ('~', '<cvtColor>'): 'colour conversion',
    ('dfdc_winner_baseline.py', '<listcomp>'): 'detection (downscale, MTCNN)',  # its resize to a quarter
    ('mtcnn.py', 'detect'): 'detection (downscale, MTCNN)', ('mtcnn.py', '__init__'): 'start-up',
    ('dfdc_winner_baseline.py', '<module>'): 'other',
}


def stage_seconds(stats, roots):
    "{stage: seconds} from `pstats.Stats`: each function's own time split among its callers' stages (see `STAGES`)."
    table, done = stats.stats, {}

    def named(func):
        file, _, name = func
        return next((stage for (suffix, n), stage in roots.items() if n == name and file.endswith(suffix)), None)

    def shares(func, path):  # {stage: share of func's own time}; {} where every way up leads back into `path`
        if func in done:
            return done[func]
        if stage := named(func):
            return done.setdefault(func, {stage: 1.0})
        if not table[func][4]:  # called by nothing profiled
            return {'other': 1.0}
        # callers on the way up already are a recursive call (torch's modules call modules): followed once
        up = {c: (v[2] or v[3] or 1e-9, shares(c, path | {func})) for c, v in table[func][4].items() if c not in path}
        total = sum(weight for weight, found in up.values() if found)
        result = {}
        for weight, found in up.values():
            for stage, share in found.items():
                result[stage] = result.get(stage, 0) + share * weight / total
        if not path:  # a share computed inside a cycle depends on the path: kept only from the top
            done[func] = result
        return result

    seconds = dict.fromkeys(STAGES, 0.0)
    for func, (*_, own, _, _) in table.items():
        for stage, share in (shares(func, frozenset()) or {'other': 1.0}).items():
            seconds[stage] += own * share
    return seconds


def profile_library(clips, work):
    "{stage: CPU seconds} of the library's `process_video` on `clips` as one worker runs it (MTCNN in-process)."
    torch.set_num_threads(1)  # a worker's share: one core (preprocess's `_init_worker`)
    extractor, out = FaceExtractor(), Path(tempfile.mkdtemp(dir=work))
    for sub in ('clips', 'rows', 'crops', '.tmp'):
        (out / sub).mkdir()
    process_video(dict(clips[0]), extractor, out, threads=1)  # builds MTCNN and warms it up: start-up, not profiled
    profiler = cProfile.Profile(time.process_time)
    profiler.runcall(lambda: [process_video(dict(record), extractor, out, threads=1) for record in clips])
    return stage_seconds(pstats.Stats(profiler), LIBRARY_STAGES)


def profile_script(clips):
    "{stage: CPU seconds} of the DFDC winner's script on `clips`, run unchanged here (MTCNN's build: start-up)."
    threads, argv = torch.get_num_threads(), sys.argv
    sys.argv = [str(WINNER), '0.25', *map(str, clips)]
    profiler = cProfile.Profile(time.process_time)
    try:
        with open(os.devnull, 'w') as null, contextlib.redirect_stdout(null):
            profiler.runcall(runpy.run_path, str(WINNER), run_name='__main__')
    finally:
        sys.argv = argv
        torch.set_num_threads(threads)
    return stage_seconds(pstats.Stats(profiler), SCRIPT_STAGES)


def profile_one(who):
    "Print {stage: CPU seconds a video} of `who` ('library' or 'script') on the DFDC clips as JSON (`--profile_one`)."
    dfdc = read_source(DATA / 'dfdc_sample')
    dfdc = dfdc[dfdc.status != 'missing']
    __import__('facenet_pytorch')  # imported before profiling: the script's imports are no stage
    with tempfile.TemporaryDirectory() as work:
        found = profile_library(dfdc.to_dict('records'), work) if who == 'library' else profile_script(dfdc.path)
    print(json.dumps({k: v / len(dfdc) for k, v in found.items()}))


def profile(rounds):
    """{'library'|'script': {stage: CPU seconds a video}}, the two profiled in turn `rounds` times, averaged; each in
    a fresh process, so that neither inherits the other's heap or thread settings."""
    seconds = {'library': [], 'script': []}
    for r in range(rounds):
        for who in (['library', 'script'] if r % 2 == 0 else ['script', 'library']):
            out = subprocess.run([sys.executable, __file__, '--profile_one', who], capture_output=True, text=True,
                                 check=True)
            seconds[who].append(json.loads(out.stdout.splitlines()[-1]))
            print(f'  profile round {r + 1}, {who}: {sum(seconds[who][-1].values()):.2f} CPU s a video', flush=True)
    return {who: {k: float(np.mean([run[k] for run in runs])) for k in STAGES} for who, runs in seconds.items()}


LIBRARY_RUN = """import sys
from deepfake.preprocess import preprocess
from deepfake.sources import read_sources
preprocess(read_sources([sys.argv[1]]), sys.argv[2], workers=int(sys.argv[3]), detect_server=sys.argv[4] == 'on',
           progress=False)
"""


def timed_run(command):
    "(wall seconds, CPU seconds of the process and its children) of a fresh process."
    before, start = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    wall, after = time.perf_counter() - start, resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)


def against_winner(clips, rounds, workers, detect_server, work):
    """Steady state (s a video: the slope between 4 and 12 copies of `clips`), start-up and CPU s a video of the
    library (`workers`, fresh processes) and of the DFDC winner's script, alternated; each a list over the rounds."""
    folders = {n: read_sources([repeated(clips, n // len(clips), Path(work) / f'winner{n}')]) for n in (4, 12)}
    assert len(folders[4]) == 4 and len(folders[12]) == 12, 'the slope is taken between 4 and 12 videos'
    commands = {
        'library': lambda n, out: [sys.executable, '-c', LIBRARY_RUN, str(Path(work) / f'winner{n}'), str(out),
                                   str(workers), detect_server],
        'script': lambda n, out: [sys.executable, str(WINNER), '0.25', *sorted(folders[n].path)]}
    runs = {who: {4: [], 12: []} for who in commands}
    for r in range(rounds):
        for n in (4, 12):
            for who in (['library', 'script'] if r % 2 == 0 else ['script', 'library']):
                out = Path(tempfile.mkdtemp(dir=work)) / 'faces'
                runs[who][n].append(timed_run(commands[who](n, out)))
                shutil.rmtree(out.parent)
                print(f'  round {r + 1}, {n} clips, {who}: {runs[who][n][-1][0]:.1f} s, load {os.getloadavg()[0]:.1f}',
                      flush=True)
    result = {}
    for who, by_n in runs.items():
        steady = [(b[0] - a[0]) / 8 for a, b in zip(by_n[4], by_n[12])]
        result[who] = dict(steady=steady, startup=[a[0] - 4 * s for a, s in zip(by_n[4], steady)],
                           cpu=[(b[1] - a[1]) / 8 for a, b in zip(by_n[4], by_n[12])])
    return result


def print_profile(seconds, measured=None):
    """The stage table (markdown): CPU seconds a video and share, library and script. With `measured`
    (`against_winner`), what one process cannot show: the real run's CPU beyond the profile's (the hand-off between
    the library's processes), the cores it did not use, and the start-up (once a run, outside the table)."""
    rows = {who: {k: v for k, v in stages.items() if k != 'start-up'} for who, stages in seconds.items()}
    if measured:
        for who, stages in rows.items():
            cpu, steady = (float(np.mean(measured[who][k])) for k in ('cpu', 'steady'))
            # for the library, moving frames and boxes between processes (negative: the split processes spend less
            # than one); for the script, one process, only the two measures' difference
            stages['real run beyond the profile: inter-process hand-off'] = cpu - sum(stages.values())
            stages[f'cores not used by it (idle, or taken by other jobs): {CORES} x steady wall - CPU'] = \
                CORES * steady - cpu
    names = list(rows['library'])
    totals = {who: sum(r.values()) for who, r in rows.items()}
    print('| stage (core-seconds a video) | library | share | script | share |')
    print('|---|---|---|---|---|')
    for name in names:
        lib, scr = rows['library'][name], rows['script'][name]
        print(f'| {name} | {lib:.3f} | {lib / totals["library"]:.0%} | {scr:.3f} | {scr / totals["script"]:.0%} |')
    total = f'total (= {CORES} x steady wall)' if measured else 'total'
    print(f'| {total} | {totals["library"]:.3f} | | {totals["script"]:.3f} | |')
    if measured:
        print(f"start-up, once a run (s): library {np.mean(measured['library']['startup']):.1f}, "
              f"script {np.mean(measured['script']['startup']):.1f}")


def against_main(args):
    "--against winner and --profile: the library at its defaults on the 4 DFDC clips (12 for the slope) and the script."
    dfdc = read_source(DATA / 'dfdc_sample')
    dfdc = dfdc[dfdc.status != 'missing']
    workers = args.workers or auto_workers(len(dfdc) * 4)  # what a folder of 16 videos gets
    print(f'{len(dfdc)} DFDC 1080p clips, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f} before; library: '
          f'--workers {workers}, detector processes {args.detect_server}', flush=True)
    with tempfile.TemporaryDirectory() as work:
        seconds = profile(args.rounds) if args.profile else None
        measured = against_winner(dfdc.path, args.rounds, workers, args.detect_server, work) if args.against else None
    if seconds:
        print_profile(seconds, measured)
    if measured:
        lib, script = (float(np.mean(measured[w]['steady'])) for w in ('library', 'script'))
        cpu, startup = ({w: float(np.mean(measured[w][k])) for w in measured} for k in ('cpu', 'startup'))
        ratios = [s / l for l, s in zip(measured['library']['steady'], measured['script']['steady'])]
        print(f"against the DFDC winner's script, steady state (4 -> 12 clips, {args.rounds} alternated rounds): "
              f'library {lib:.2f} s/video ({60 / lib:.1f} videos/min, '
              f"{cpu['library']:.2f} CPU s, start-up {startup['library']:.1f} s), script {script:.2f} s/video "
              f"({60 / script:.1f} videos/min, {cpu['script']:.2f} CPU s, start-up {startup['script']:.1f} s); "
              f"ratio {script / lib:.2f}x (rounds: {', '.join(f'{r:.2f}' for r in ratios)}; target >= 1.4); "
              f'load {os.getloadavg()[0]:.1f} after')


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
    p.add_argument('--against', choices=['winner'], help="the comparison of record: the library against the DFDC "
                                                         "winner's script, alternated, 4 and 12 clips")
    p.add_argument('--profile', action='store_true', help='CPU seconds a video per stage, library and script')
    p.add_argument('--rounds', type=int, default=2, help='alternated rounds of --against and --profile')
    p.add_argument('--profile_one', choices=['library', 'script'], help=argparse.SUPPRESS)  # one arm of --profile
    args = p.parse_args()
    if args.profile_one:
        return profile_one(args.profile_one)
    if not (DATA / 'dfdc_sample').is_dir():
        return print(f'preprocess: skipped, {DATA / "dfdc_sample"} is absent (the project\'s test data)')
    if args.against or args.profile:
        if not WINNER.is_file():
            return print(f"preprocess: skipped, {WINNER} is absent (the DFDC winner's script)")
        return against_main(args)
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

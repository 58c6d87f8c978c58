"""A soak of the service: gunicorn with 2 workers on loopback, 8 clients sending a fixed mix of good, oversize,
non-video and malformed requests for a fixed time. Reports answered / failed, p50 / p95 latency per kind, and that no
upload is left in the temporary folder.

    python bench/soak.py [--seconds 60] [--clients 8] [--workers 2]

The model is a random-weights EfficientNet-Lite0 checkpoint (the speed of the service, not its judgement), the good
videos two DFDC-format clips of ../shared/data (the demo videos when it is absent). Prints one summary line.
"""
import argparse
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import requests

sys.path.insert(0, str(Path(__file__).parent))
from predict import random_checkpoint  # noqa: E402  (bench/predict.py)

DATA = Path(__file__).resolve().parents[1].parent / 'shared' / 'data'
ROOT = Path(__file__).resolve().parents[1]


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def good_videos(tmp):
    clips = sorted((DATA / 'ffpp_c23' / 'original_sequences').rglob('*.mp4'))[:2]
    if clips:
        return [c.read_bytes() for c in clips]
    from deepfake.demo_data import make_demo_data
    return [Path(p).read_bytes() for p in make_demo_data(Path(tmp) / 'demo').path[:2]]


TOKEN = 'soak-token'


def requests_mix(videos, max_mb):
    """The kinds of request and how to send each: name -> (expected statuses, function of a session). An upload may
    also be turned away with 503 when a worker has $DEEPFAKE_MAX_PENDING (4) uploads already: that is the design."""
    big = os.urandom(int((max_mb + 1) * 1024 * 1024))
    auth = {'Authorization': f'Bearer {TOKEN}'}
    post = lambda s, data, name='clip.mp4', field='video', headers=auth: s.post(
        URL + '/predict', files={field: (name, data)}, headers=headers, timeout=300)
    return {
        'good video': ({200, 503}, lambda s: post(s, random.choice(videos))),
        'no token': ({401}, lambda s: post(s, random.choice(videos), headers={})),
        'oversize': ({413, 503}, lambda s: post(s, big)),
        'not a video': ({415, 503}, lambda s: post(s, b'<html>' + os.urandom(2000), '../../etc/passwd')),
        'truncated mp4': ({422, 503}, lambda s: post(s, random.choice(videos)[:5000])),
        'no video field': ({400, 503}, lambda s: post(s, b'1', field='other')),
        'health': ({200}, lambda s: s.get(URL + '/health', timeout=30)),
        'unknown path': ({404}, lambda s: s.get(URL + '/nowhere', timeout=30)),
    }


def client(mix, deadline, seed):
    "One client: random requests of the mix until the deadline; [(kind, status or error, seconds)]."
    rng, session, done = random.Random(seed), requests.Session(), []
    kinds = list(mix)
    while time.time() < deadline:
        kind = rng.choice(kinds)
        start = time.perf_counter()
        try:
            status = mix[kind][1](session).status_code
        except requests.RequestException as e:
            status = type(e).__name__
        done.append((kind, status, time.perf_counter() - start))
    return done


def main():
    global URL
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--seconds', type=float, default=60)
    p.add_argument('--clients', type=int, default=8)
    p.add_argument('--workers', type=int, default=2)
    p.add_argument('--max_mb', type=float, default=2)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        uploads = tmp / 'uploads'
        uploads.mkdir()
        checkpoint = random_checkpoint(tmp, 'efficientnet_lite0', 160, 8, 16)
        port = free_port()
        URL = f'http://127.0.0.1:{port}'
        env = {**os.environ, 'DEEPFAKE_CHECKPOINT': str(checkpoint), 'DEEPFAKE_MAX_MB': str(args.max_mb),
               'DEEPFAKE_TMP_DIR': str(uploads), 'WEB_CONCURRENCY': str(args.workers), 'DEEPFAKE_TOKEN': TOKEN}  # each worker its share of the cores
        server = subprocess.Popen([str(Path(sys.executable).parent / 'gunicorn'), '-w', str(args.workers), '--timeout',
                                   '300', '-b', f'127.0.0.1:{port}', 'deepfake.serve:create_app_from_env()'],
                                  cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            for _ in range(240):
                try:
                    if requests.get(URL + '/health', timeout=1).ok:
                        break
                except requests.RequestException:  # not listening yet, or still loading the model
                    time.sleep(0.5)
            else:
                raise SystemExit(f'gunicorn did not start: {server.stderr.read()[-2000:]}')
            mix = requests_mix(good_videos(tmp), args.max_mb)
            deadline = time.time() + args.seconds
            with ThreadPoolExecutor(args.clients) as pool:
                results = [r for rs in pool.map(lambda k: client(mix, deadline, k), range(args.clients)) for r in rs]
            time.sleep(1)
            left = sorted(p.name for p in uploads.iterdir())
        finally:
            server.terminate()
            server.wait(30)
    print(f'{args.clients} clients, {args.seconds:g} s, gunicorn -w {args.workers}, uploads capped at {args.max_mb:g} MB')
    print('| request | sent | expected status | other answers | p50 s | p95 s |\n|---|---:|---|---:|---:|---:|')
    unexpected = 0
    busy = sum(r[1] == 503 for r in results)
    for kind, (expected, _) in mix.items():
        rows = [r for r in results if r[0] == kind]
        wrong = sum(r[1] not in expected for r in rows)
        unexpected += wrong
        seconds = np.array([r[2] for r in rows]) if rows else np.array([np.nan])
        print(f'| {kind} | {len(rows)} | {sorted(expected)} | {wrong} | {np.percentile(seconds, 50):.3f} | '
              f'{np.percentile(seconds, 95):.3f} |')
    answered = sum(isinstance(r[1], int) for r in results)
    print(f'soak: {len(results)} requests, {answered} answered ({busy} turned away busy, 503), '
          f'{len(results) - answered} failed to connect, {unexpected} with an unexpected status, {len(left)} uploads '
          f'left in the temporary folder {left[:3]}')


if __name__ == '__main__':
    main()

"The HTTP service, started in a subprocess and used over loopback: uploads, limits, names, concurrency, the page."
import io
import os
import shutil
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from deepfake.serve import sniff_video

ROOT = Path(__file__).resolve().parents[1]
TOKEN = 'a-test-token'
AUTH = {'Authorization': f'Bearer {TOKEN}'}


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


@pytest.fixture(scope='module')
def server(tiny_checkpoint, tmp_path_factory):
    """`deepfake serve` on a 1-epoch demo model, uploads capped at 2 MB and frames at 100,000 pixels, its temporary
    files in a folder we watch, /predict behind a token, 8 uploads at once."""
    port, uploads = free_port(), tmp_path_factory.mktemp('uploads')
    proc = subprocess.Popen([str(Path(sys.executable).parent / 'deepfake'), 'serve', str(tiny_checkpoint), '--port', str(port),
                             '--max_mb', '2', '--frames', '6', '--tmp_dir', str(uploads), '--max_pixels', '100000',
                             '--token', TOKEN, '--max_pending', '8'],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f'http://127.0.0.1:{port}'
    for _ in range(120):
        try:
            if requests.get(url + '/health', timeout=1).ok:
                break
        except requests.ConnectionError:
            time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail(f'the server did not start: {proc.stdout.read()[-2000:]}')
    yield url, uploads
    proc.terminate()
    proc.wait(10)


def post(url, content, filename='clip.mp4', headers=AUTH):
    return requests.post(url + '/predict', files={'video': (filename, content, 'video/mp4')}, headers=headers,
                         timeout=120)


def test_sniff():
    assert sniff_video(b'\x1a\x45\xdf\xa3\x01') == '.mkv' and sniff_video(b'RIFF\x00\x00\x00\x00AVI LIST') == '.avi'
    assert sniff_video(b'<html><body>') is None


def test_gunicorn_workers_share_the_cores(tiny_checkpoint, monkeypatch, tmp_path):
    "create_app_from_env: each of $WEB_CONCURRENCY workers takes its share of torch's threads, at least one."
    import torch
    from deepfake.serve import create_app_from_env
    before = torch.get_num_threads()
    monkeypatch.setenv('DEEPFAKE_CHECKPOINT', str(tiny_checkpoint))
    monkeypatch.setenv('DEEPFAKE_TOKEN_FILE', str(tmp_path / 'token'))
    try:
        for workers in (1, 2, 4 * before):
            torch.set_num_threads(before)
            monkeypatch.setenv('WEB_CONCURRENCY', str(workers))
            create_app_from_env()
            assert torch.get_num_threads() == max(1, before // workers)
    finally:
        torch.set_num_threads(before)


def test_health_and_page(server):
    url, _ = server
    assert requests.get(url + '/health').json() == {'status': 'ok', 'model': 'resnet18'}
    page = requests.get(url + '/').text
    assert '<input type="file"' in page and 'up to 2 MB' in page


def test_good_upload(server, demo_videos):
    url, uploads = server
    video = sorted(demo_videos.glob('*/*.mp4'))[0]
    r = requests.post(url + '/predict?crops=1', files={'video': (video.name, video.read_bytes())}, headers=AUTH,
                      timeout=120)
    assert r.status_code == 200
    j = r.json()
    assert 0.01 <= j['fake_probability'] <= 0.99 and j['label'] in ('REAL', 'FAKE') and j['faces'] >= 5
    assert j['frames'] == 6 and len(j['per_frame']) >= 4 and j['seconds'] > 0 and j['error'] is None
    assert j['status'] == 'ok' and 'path' not in j
    assert j['crops'][0]['image'].startswith('data:image/jpeg;base64,')
    assert not list(uploads.iterdir())  # the temporary file is gone


def test_oversize_non_video_and_hostile_name(server, demo_videos):
    url, uploads = server
    assert post(url, os.urandom(3 * 1024 * 1024)).status_code == 413
    r = post(url, b'root:x:0:0:root:/root:/bin/bash\n' * 10, filename='../../etc/passwd')
    assert r.status_code == 415 and 'not a video' in r.json()['error']
    video = sorted(demo_videos.glob('*/*.mp4'))[0]
    r = post(url, video.read_bytes(), filename='../../../tmp/evil.mp4')
    assert r.status_code == 200 and 'evil' not in r.text
    assert not Path('/tmp/evil.mp4').exists() and not list(uploads.iterdir())
    assert requests.post(url + '/predict', files={'other': ('x', b'1')}, headers=AUTH).status_code == 400


def test_failures_are_json_statuses_not_answers(server, demo_videos):
    "A truncated MP4 is 422 with no label and no server path; 404 and 405 are JSON; headers name no versions."
    url, uploads = server
    video = sorted(demo_videos.glob('*/*.mp4'))[0]
    r = post(url, video.read_bytes()[:3000], filename='cut.mp4')
    assert r.status_code == 422 and r.json() == {'error': 'not a readable video'} and '/tmp' not in r.text
    for method, path, code in [('get', '/nowhere', 404), ('get', '/predict', 405), ('delete', '/', 405)]:
        r = getattr(requests, method)(url + path)
        assert r.status_code == code and r.headers['Content-Type'] == 'application/json' and 'error' in r.json()
    r = requests.get(url + '/')
    assert 'Werkzeug' not in r.headers['Server'] and 'Python' not in r.headers['Server']
    assert r.headers['X-Content-Type-Options'] == 'nosniff' and r.headers['X-Frame-Options'] == 'DENY'
    csp = r.headers['Content-Security-Policy']
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp and 'nonce-' in csp
    assert f"nonce=\"{csp.split('nonce-')[1].split(chr(39))[0]}\"" in r.text  # the page's script carries it
    assert not list(uploads.iterdir())


def test_eight_concurrent_requests(server, demo_videos):
    url, uploads = server
    videos = sorted(demo_videos.glob('*/*.mp4'))[:8]
    alone = {v.name: post(url, v.read_bytes()).json()['fake_probability'] for v in videos[:2]}
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda v: (v.name, post(url, v.read_bytes())), videos))
    assert all(r.status_code == 200 for _, r in answers)
    for name, r in answers:
        if name in alone:  # each answer belongs to its own upload
            assert r.json()['fake_probability'] == pytest.approx(alone[name])
    assert not list(uploads.iterdir())


def chromium():
    for name in ('chromium', 'chromium-browser'):
        if shutil.which(name) and shutil.which('chromedriver'):
            return shutil.which(name)
    pytest.skip("Debian's chromium and chromium-driver are not installed (.ci/run installs them)")


def test_web_page_in_headless_chromium(server, demo_videos):
    from selenium import webdriver
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait
    url, _ = server
    options = webdriver.ChromeOptions()
    options.binary_location = chromium()
    for flag in ['--headless', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage',
                 '--disable-background-networking', '--disable-component-update', '--no-first-run']:
        options.add_argument(flag)
    options.set_capability('goog:loggingPrefs', {'browser': 'ALL'})  # CSP violations are reported there
    service = webdriver.ChromeService(executable_path=shutil.which('chromedriver'))
    driver = webdriver.Chrome(options=options, service=service)
    try:
        driver.get(url + f'/#token={TOKEN}')  # the fragment never reaches the server; the page sends it as a header
        video = sorted(demo_videos.glob('*/*.mp4'))[0]
        driver.find_element(By.ID, 'video').send_keys(str(video))
        driver.find_element(By.ID, 'submit').click()
        WebDriverWait(driver, 120).until(lambda d: 'P(fake)' in d.find_element(By.ID, 'verdict').text)
        assert driver.find_element(By.ID, 'verdict').text.split(':')[0] in ('REAL', 'FAKE')
        assert driver.find_elements(By.CSS_SELECTOR, '#crops img')  # data: images, allowed by the CSP
        violations = [e for e in driver.get_log('browser') if 'Content Security Policy' in e['message']]
        assert not violations, violations
    finally:
        driver.quit()


def test_predict_asks_for_the_token(server, demo_videos):
    "No token, a wrong one, another scheme: 401 before the upload is read; the page and /health stay open."
    url, uploads = server
    video = sorted(demo_videos.glob('*/*.mp4'))[0].read_bytes()
    for headers in ({}, {'Authorization': 'Bearer wrong'}, {'Authorization': f'Basic {TOKEN}'}):
        r = post(url, video, headers=headers)
        assert r.status_code == 401 and r.headers['WWW-Authenticate'] == 'Bearer' and 'token' in r.json()['error']
    assert post(url, video, headers={'Authorization': f'bearer {TOKEN}'}).status_code == 200
    assert requests.get(url + '/').ok and requests.get(url + '/health').ok and not list(uploads.iterdir())


def test_frames_larger_than_the_limit_are_refused_before_decoding(server, tmp_path):
    "A 400×300 video (120,000 pixels a frame) against --max_pixels 100000: 422, and no file left."
    url, uploads = server
    from conftest import face_frames, write_video
    big = write_video(tmp_path / 'big.mp4', face_frames(4, size=(300, 400)))
    r = post(url, big.read_bytes())
    assert r.status_code == 422 and 'pixels' in r.json()['error'] and not list(uploads.iterdir())


class Waiting:
    "A detector that holds every request until told to go on."
    model_name = 'waiting'

    def __init__(self):
        import threading
        self.go, self.started = threading.Event(), threading.Semaphore(0)

    def predict_video(self, path, keep_crops=None, **limits):
        from deepfake.predict import Prediction
        self.started.release()
        self.go.wait(30)
        return Prediction(filename='x', name='x', path=path, status='no_face', frames=4)


def test_uploads_beyond_max_pending_get_503_with_retry_after(tmp_path):
    "With 1 upload being scored and max_pending=2, a second waits and a third is turned away at once."
    from deepfake.serve import create_app
    detector = Waiting()
    app = create_app(detector, tmp_dir=tmp_path, max_pending=2, timeout=30).test_client()
    body = lambda: {'video': (io.BytesIO(b'\x00\x00\x00\x18ftypmp42' + b'0' * 100), 'x.mp4')}
    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(app.post, '/predict', data=body())
        detector.started.acquire(timeout=30)
        second = pool.submit(app.post, '/predict', data=body())
        time.sleep(0.5)
        third = app.post('/predict', data=body())
        detector.go.set()
        assert first.result().status_code == 200 and second.result().status_code == 200
    assert third.status_code == 503 and third.headers['Retry-After'] and 'try again' in third.json['error']
    assert not list(tmp_path.iterdir())


def test_a_request_is_bounded_in_time(tiny_checkpoint, demo_videos, tmp_path):
    "Past the deadline, decoding stops: 422 with the reason; a second request waiting past it gets 503."
    from deepfake.predict import Detector
    from deepfake.serve import create_app
    app = create_app(Detector(tiny_checkpoint, frames=4), tmp_dir=tmp_path, timeout=1e-9).test_client()
    video = sorted(demo_videos.glob('*/*.mp4'))[0]
    r = app.post('/predict', data={'video': (io.BytesIO(video.read_bytes()), 'v.mp4')})
    assert r.status_code in (422, 503) and ('not decoded within' in r.json['error'] or 'busy' in r.json['error'])
    assert not list(tmp_path.iterdir())


def test_gunicorn_workers_share_one_token(tmp_path, monkeypatch):
    "The image's default: a token made once, in a file of mode 600 that every worker reads."
    from deepfake.serve import shared_token
    first, second = shared_token(tmp_path / 'dir' / 'token'), shared_token(tmp_path / 'dir' / 'token')
    assert first == second and len(first) >= 32 and (tmp_path / 'dir' / 'token').stat().st_mode & 0o777 == 0o600
    assert sorted(p.name for p in (tmp_path / 'dir').iterdir()) == ['token']

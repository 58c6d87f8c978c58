"The HTTP service, started in a subprocess and used over loopback: uploads, limits, names, concurrency, the page."
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


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


@pytest.fixture(scope='module')
def server(tiny_checkpoint, tmp_path_factory):
    "`deepfake serve` on a 1-epoch demo model, uploads capped at 2 MB, its temporary files in a folder we watch."
    port, uploads = free_port(), tmp_path_factory.mktemp('uploads')
    proc = subprocess.Popen([str(Path(sys.executable).parent / 'deepfake'), 'serve', str(tiny_checkpoint), '--port', str(port),
                             '--max_mb', '2', '--frames', '6', '--tmp_dir', str(uploads)],
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


def post(url, content, filename='clip.mp4'):
    return requests.post(url + '/predict', files={'video': (filename, content, 'video/mp4')}, timeout=120)


def test_sniff():
    assert sniff_video(b'\x1a\x45\xdf\xa3\x01') == '.mkv' and sniff_video(b'RIFF\x00\x00\x00\x00AVI LIST') == '.avi'
    assert sniff_video(b'<html><body>') is None


def test_gunicorn_workers_share_the_cores(tiny_checkpoint, monkeypatch):
    "create_app_from_env: each of $WEB_CONCURRENCY workers takes its share of torch's threads, at least one."
    import torch
    from deepfake.serve import create_app_from_env
    before = torch.get_num_threads()
    monkeypatch.setenv('DEEPFAKE_CHECKPOINT', str(tiny_checkpoint))
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
    r = requests.post(url + '/predict?crops=1', files={'video': (video.name, video.read_bytes())}, timeout=120)
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
    assert requests.post(url + '/predict', files={'other': ('x', b'1')}).status_code == 400


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
        driver.get(url + '/')
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

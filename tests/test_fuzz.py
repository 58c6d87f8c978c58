"""Property-based tests of every reader of user files and of the upload endpoint: whatever the input, the answer is
the data or one line that names the file (and the entry), never a traceback. Bounded here; `make fuzz` runs the
same properties with many more examples (HYPOTHESIS_PROFILE=long)."""
import io
import json
import os
import string

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from deepfake.sources import read_dfdc, read_faces
from deepfake.split import read_split

settings.register_profile('ci', max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
settings.register_profile('long', max_examples=2000, deadline=None,
                          suppress_health_check=[HealthCheck.function_scoped_fixture])
settings.load_profile(os.environ.get('HYPOTHESIS_PROFILE', 'ci'))

JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
                    max_leaves=8)
NAMES = st.text(alphabet=string.ascii_letters + './\\\0 é-_', max_size=12)
CELLS = st.text(alphabet=string.ascii_letters + string.digits + ',"\n\r ./-', max_size=60)


def one_line(error, path):
    "A reader's error: names the file, and is a single line."
    message = str(error)
    assert str(path) in message and '\n' not in message.strip(), message


@given(entries=st.dictionaries(NAMES, JSON, max_size=5) | JSON)
def test_dfdc_metadata_any_content(tmp_path_factory, entries):
    "Any JSON in metadata.json: rows (each ok, missing, or an error naming the file and entry), or one line."
    root = tmp_path_factory.mktemp('dfdc')
    (root / 'metadata.json').write_text(json.dumps(entries))
    try:
        table = read_dfdc(root)
    except ValueError as e:
        return one_line(e, root / 'metadata.json')
    for row in table.to_dict('records'):
        assert row['status'] in ('', 'missing', 'error')
        if row['status'] == 'error':
            assert str(root / 'metadata.json') in row['error'] and 'entry' in row['error']
        else:
            assert (row['label'] in ('REAL', 'FAKE') or pd.isna(row['label'])) and '/' not in row['name']


@given(raw=st.binary(max_size=200))
def test_dfdc_metadata_any_bytes(tmp_path_factory, raw):
    root = tmp_path_factory.mktemp('dfdc')
    (root / 'metadata.json').write_bytes(raw)
    try:
        read_dfdc(root)
    except ValueError as e:
        one_line(e, root / 'metadata.json')


@given(content=CELLS)
def test_face_set_metadata_csv_any_content(tmp_path_factory, content):
    root = tmp_path_factory.mktemp('faces')
    (root / 'metadata.csv').write_text('name,label\n' + content)
    try:
        table = read_faces(root)
    except ValueError as e:
        return one_line(e, root / 'metadata.csv')
    assert all(r['status'] in ('', 'missing', 'error') for r in table.to_dict('records'))
    assert all(str(root / 'metadata.csv') in r['error'] for r in table.to_dict('records') if r['status'] == 'error')


@given(content=CELLS)
def test_split_csv_any_content(tmp_path_factory, content):
    path = tmp_path_factory.mktemp('split') / 'videos_df.csv'
    path.write_text('name,label,is_valid\n' + content)
    try:
        split = read_split(path)
    except ValueError as e:
        return one_line(e, path)
    assert split.is_valid.map(type).eq(bool).all() and split.label.isin(['REAL', 'FAKE']).all()


@pytest.fixture(scope='module')
def client(tiny_checkpoint, tmp_path_factory):
    from deepfake.predict import Detector
    from deepfake.serve import create_app
    uploads = tmp_path_factory.mktemp('uploads')
    app = create_app(Detector(tiny_checkpoint, frames=4), max_mb=0.05, tmp_dir=uploads)
    return app.test_client(), uploads


HEADS = st.sampled_from([b'', b'\x00\x00\x00\x18ftypmp42', b'\x1a\x45\xdf\xa3', b'RIFF\x00\x00\x00\x00AVI ', b'FLV',
                         b'\x00\x00\x01\xba', b'<html>', b'\x89PNG'])


@given(head=HEADS, body=st.binary(max_size=3000), name=NAMES, field=st.sampled_from(['video', 'file']))
def test_upload_endpoint_any_body(client, head, body, name, field):
    "Whatever is uploaded, under whatever name: a JSON answer with a known status, and no file left behind."
    app, uploads = client
    r = app.post('/predict', data={field: (io.BytesIO(head + body), name or 'x')})
    assert r.status_code in (200, 400, 413, 415, 422) and r.is_json, (r.status_code, r.data[:200])
    if r.status_code != 200:
        assert set(r.json) == {'error'} and '/tmp' not in r.json['error']
    assert not list(uploads.iterdir())

"Each source layout read into the video table, on tiny trees written with cv2.VideoWriter."
import json

import pytest
from conftest import noise_frames, shared_data, write_video

from deepfake.sources import COLUMNS, detect_layout, read_source, read_sources


def video(path):
    return write_video(path, noise_frames(3, (32, 32)))


def test_dfdc_parts(tmp_path):
    for part, entries in [(0, {'a.mp4': ('REAL', None), 'b.mp4': ('FAKE', 'a.mp4'), 'gone.mp4': ('FAKE', 'a.mp4')}),
                          (1, {'c.mp4': ('REAL', None), 'd.mp4': ('FAKE', 'c.mp4')})]:
        folder = tmp_path / f'dfdc_train_part_{part}'
        meta = {}
        for name, (label, original) in entries.items():
            if name != 'gone.mp4':
                video(folder / name)
            meta[name] = {'label': label, 'split': 'train', 'original': original}
        folder.mkdir(exist_ok=True)
        (folder / 'metadata.json').write_text(json.dumps(meta))
    assert detect_layout(tmp_path) == 'dfdc' and detect_layout(tmp_path / 'dfdc_train_part_1') == 'dfdc'
    t = read_source(tmp_path).set_index('name')
    assert list(t.columns) == COLUMNS[1:]
    assert t.group.to_dict() == {'a': 'dfdc_a', 'b': 'dfdc_a', 'gone': 'dfdc_a', 'c': 'dfdc_c', 'd': 'dfdc_c'}
    assert t.loc['gone', 'status'] == 'missing' and (t.drop('gone').status == '').all()
    assert t.loc['b', 'original'] == 'a' and t.loc['b', 'label'] == 'FAKE' and t.loc['a', 'split'] == 'train'


def test_ffpp_groups_are_connected_components(tmp_path):
    for p in ['original_sequences/youtube/c23/videos/000.mp4', 'original_sequences/youtube/c23/videos/003.mp4',
              'original_sequences/youtube/c23/videos/007.mp4', 'original_sequences/youtube/c23/videos/009.mp4',
              'manipulated_sequences/Deepfakes/c23/videos/000_003.mp4',
              'manipulated_sequences/FaceSwap/c23/videos/003_009.mp4',
              'manipulated_sequences/Face2Face/c40/videos/007_007.mp4']:
        video(tmp_path / p)
    assert detect_layout(tmp_path) == 'ffpp'
    t = read_source(tmp_path).set_index('name')
    g = t.group.to_dict()
    assert g['youtube_000'] == g['youtube_003'] == g['youtube_009'] == g['Deepfakes_000_003'] == g['FaceSwap_003_009']
    assert g['youtube_007'] == g['Face2Face_007_007'] != g['youtube_000']
    assert t.loc['Face2Face_007_007', 'compression'] == 'c40' and t.loc['FaceSwap_003_009', 'method'] == 'FaceSwap'
    assert (t.label[t.method == 'youtube'] == 'REAL').all() and (t.label[t.method != 'youtube'] == 'FAKE').all()


def test_real_fake_folders(tmp_path):
    video(tmp_path / 'Real' / 'x.mp4')
    video(tmp_path / 'fake' / 'x.mp4')
    video(tmp_path / 'fake' / 'y.avi')
    (tmp_path / 'fake' / 'readme.txt').write_text('not a video')
    assert detect_layout(tmp_path) == 'folders'
    t = read_source(tmp_path)
    assert sorted(zip(t.name, t.label)) == [('Real_x', 'REAL'), ('fake_x', 'FAKE'), ('y', 'FAKE')]
    assert t.group.is_unique


def test_unlabelled_videos_folder_and_files(tmp_path):
    a, b = video(tmp_path / 'v' / 'a.mp4'), video(tmp_path / 'v' / 'sub' / 'b.mov')
    assert detect_layout(tmp_path / 'v') == 'videos' and detect_layout(a) == 'videos'
    t = read_source(tmp_path / 'v')
    assert sorted(t.name) == ['a', 'b'] and t.label.isna().all()
    assert read_sources([a, b]).name.tolist() == ['a', 'b']


def test_face_image_set(tmp_path):
    import cv2
    for name in ['p1', 'p2']:
        (tmp_path / name).mkdir()
        for k in range(3):
            cv2.imwrite(str(tmp_path / name / f'{k}.jpg'), noise_frames(1, (40, 40))[0])
    (tmp_path / 'metadata.csv').write_text('name,label,original\np1.mp4,REAL,\np2.mp4,FAKE,p1.mp4\np3.mp4,FAKE,p1.mp4\n')
    assert detect_layout(tmp_path) == 'faces'
    t = read_source(tmp_path).set_index('name')
    assert t.group.to_dict() == {'p1': 'faces_p1', 'p2': 'faces_p1', 'p3': 'faces_p1'}
    assert t.loc['p3', 'status'] == 'missing' and t.loc['p2', 'original'] == 'p1'


def test_errors_name_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match='nowhere'):
        detect_layout(tmp_path / 'nowhere')
    with pytest.raises(ValueError, match='unknown layout'):
        read_source(tmp_path, 'kaggle')
    video(tmp_path / 'a' / 'x.mp4')
    video(tmp_path / 'b' / 'x.mp4')
    with pytest.raises(ValueError, match='twice'):
        read_sources([tmp_path / 'a', tmp_path / 'b'])


def test_real_dfdc_and_ffpp_tables():
    dfdc = read_source(shared_data('dfdc_sample'))
    assert len(dfdc) == 7 and (dfdc.status == 'missing').sum() == 3
    ffpp = read_source(shared_data('ffpp_c23'))
    assert len(ffpp) == 94 and ffpp.name.is_unique
    assert ffpp.groupby('method').size().to_dict() == {'Deepfakes': 32, 'Face2Face': 15, 'FaceSwap': 15, 'youtube': 32}
    # every fake is in the same group as both of its ids' originals, when present
    groups = ffpp.set_index('name').group
    for name in ffpp.name[ffpp.label == 'FAKE']:
        target, source = name.split('_')[1:3]
        for person in (target, source):
            if f'youtube_{person}' in groups:
                assert groups[f'youtube_{person}'] == groups[name]

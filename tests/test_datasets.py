"""The field's data sets read as their owners ship them (tiny trees with their exact file names, written at test time),
the official splits carried to `deepfake split --official_split`, and `deepfake benchmark` end to end."""
import json
import shutil

import cv2
import pandas as pd
import pytest
from conftest import noise_frames, run_cli, shared_data, write_video

from deepfake.datasets import READERS
from deepfake.sources import LAYOUTS, detect_layout, read_source, read_sources


def video(path):
    return write_video(path, noise_frames(3, (32, 32)))


def by_name(table):
    return table.set_index('name')


# --- Celeb-DF ---------------------------------------------------------------------------------------------------

def celebdf(root, test_list=True):
    for p in ['Celeb-real/id0_0000.mp4', 'Celeb-real/id1_0000.mp4', 'Celeb-real/id2_0003.mp4',
              'Celeb-synthesis/id0_id1_0000.mp4', 'Celeb-synthesis/id2_id0_0003.mp4', 'YouTube-real/00000.mp4',
              'YouTube-real/00001.mp4']:
        video(root / p)
    if test_list:  # the owners' convention: 1 = real, 0 = fake
        (root / 'List_of_testing_videos.txt').write_text(
            '1 YouTube-real/00001.mp4\n1 Celeb-real/id2_0003.mp4\n0 Celeb-synthesis/id2_id0_0003.mp4\n'
            '0 Celeb-synthesis/id3_id0_0001.mp4\n')
    return root


def test_celebdf_labels_groups_and_test_list(tmp_path):
    root = celebdf(tmp_path / 'Celeb-DF-v2')
    assert detect_layout(root) == 'celebdf'
    t = by_name(read_source(root))
    assert t.label['id0_id1_0000'] == 'FAKE' and t.label['00000'] == 'REAL' and t.label['id2_0003'] == 'REAL'
    assert t.original['id2_id0_0003'] == 'id2_0003' and t.method['00001'] == 'YouTube-real'
    # a fake ties its target and source: id0, id1 and id2 are one group; each YouTube-real video its own
    assert t.group['id0_0000'] == t.group['id1_0000'] == t.group['id2_0003'] == t.group['id2_id0_0003']
    assert t.group['00000'] != t.group['00001'] != t.group['id0_0000']
    assert t.split.to_dict() == {'id0_0000': 'train', 'id1_0000': 'train', 'id2_0003': 'test',
                                 'id0_id1_0000': 'train', 'id2_id0_0003': 'test', '00000': 'train', '00001': 'test',
                                 'id3_id0_0001': 'test'}
    assert t.status['id3_id0_0001'] == 'missing' and 'List_of_testing_videos.txt' in t.error['id3_id0_0001']


def test_celebdf_without_its_list_is_read_with_one_line_saying_so(tmp_path):
    t = read_source(celebdf(tmp_path / 'Celeb-DF', test_list=False))
    errors = t[t.status == 'error']
    assert len(errors) == 1 and 'List_of_testing_videos.txt' in errors.error.iloc[0] and 'missing' in errors.error.iloc[0]
    assert (t.status == '').sum() == 7 and t.split[t.status == ''].isna().all()


def test_celebdf_bad_lines_are_error_rows(tmp_path):
    root = celebdf(tmp_path / 'Celeb-DF-v2')
    (root / 'List_of_testing_videos.txt').write_text('1 Celeb-real/id2_0003.mp4\nmaybe Celeb-real/x.mp4\n'
                                                      '1 ../outside/x.mp4\n0 Celeb-real/id0_0000.mp4\n')
    t = read_source(root)
    errors = t.error[t.status == 'error'].tolist()
    assert any('line 2' in e for e in errors) and any('line 3' in e for e in errors)
    assert any('line 4' in e and 'listed as FAKE' in e for e in errors)  # the list's label disagrees with its folder
    assert by_name(t[t.status != 'error']).split['id2_0003'] == 'test'


# --- DFDC test set and preview -----------------------------------------------------------------------------------

def test_dfdc_public_test_set(tmp_path):
    root = tmp_path / 'DFDC' / 'test'
    video(root / 'ori_videos' / 'aalscayrfi.mp4')
    video(root / 'ori_videos' / 'aaqaifqrwn.mp4')
    (root / 'labels.csv').write_text('filename,label\naalscayrfi.mp4,0\naaqaifqrwn.mp4,1\nzzzzzzzzzz.mp4,1\n')
    for r in (root, root.parent):  # the test folder itself, or the DFDC root holding test/
        assert detect_layout(r) == 'dfdc_test'
        t = by_name(read_source(r))
        assert t.label.to_dict() == {'aalscayrfi': 'REAL', 'aaqaifqrwn': 'FAKE', 'zzzzzzzzzz': 'FAKE'}
        assert (t.split == 'test').all() and t.status['zzzzzzzzzz'] == 'missing' and t.group.is_unique


def test_dfdc_test_videos_folder_and_a_bad_label(tmp_path):
    video(tmp_path / 'test_videos' / 'abc.mp4')
    (tmp_path / 'labels.csv').write_text('filename,label\nabc.mp4,FAKE\nabd.mp4,perhaps\n')
    t = read_source(tmp_path)
    assert t.status.tolist() == ['', 'error'] and 'labels.csv: line 3' in t.error[1]


def test_dfdc_preview(tmp_path):
    video(tmp_path / 'original_videos' / '1255229' / '1255229_A_001.mp4')
    video(tmp_path / 'method_A' / '1255229' / '1255229_A' / '1255229_A_001_x.mp4')
    video(tmp_path / 'method_B' / '2130' / '2130_B_002.mp4')
    (tmp_path / 'dataset.json').write_text(json.dumps({
        'original_videos/1255229/1255229_A_001.mp4': {'label': 'real', 'set': 'train', 'target_id': '1255229'},
        'method_A/1255229/1255229_A/1255229_A_001_x.mp4': {'label': 'fake', 'set': 'train', 'target_id': '1255229'},
        'method_B/2130/2130_B_002.mp4': {'label': 'fake', 'set': 'test', 'target_id': '2130'},
        'method_B/2130/2130_B_003.mp4': {'label': 'fake', 'set': 'test', 'target_id': '2130'},
        '/etc/passwd': {'label': 'fake', 'set': 'test', 'target_id': '1'},
        'method_B/x.mp4': 'fake'}))
    assert detect_layout(tmp_path) == 'dfdcp'
    t = read_source(tmp_path)
    ok = by_name(t[t.status != 'error'])
    assert ok.group['1255229_A_001'] == ok.group['1255229_A_001_x'] != ok.group['2130_B_002']
    assert ok.split.to_dict() == {'2130_B_002': 'test', '2130_B_003': 'test', '1255229_A_001_x': 'train',
                                  '1255229_A_001': 'train'}
    assert ok.status['2130_B_003'] == 'missing' and ok.method['2130_B_002'] == 'method_B'
    assert (t.status == 'error').sum() == 2 and all('dataset.json: entry' in e for e in t.error[t.status == 'error'])


# --- FaceForensics++: the whole tree and its official lists ------------------------------------------------------

FFPP_FILES = ['original_sequences/youtube/c23/videos/000.mp4', 'original_sequences/youtube/c23/videos/003.mp4',
              'original_sequences/youtube/c23/videos/010.mp4', 'original_sequences/youtube/c23/videos/011.mp4',
              'original_sequences/youtube/c23/videos/020.mp4', 'original_sequences/youtube/c23/videos/021.mp4',
              'original_sequences/actors/c23/videos/01__exit_phone_room.mp4',
              'original_sequences/actors/c23/videos/02__talking_against_wall.mp4',
              'manipulated_sequences/Deepfakes/c23/videos/000_003.mp4',
              'manipulated_sequences/Deepfakes/c23/videos/003_000.mp4',
              'manipulated_sequences/NeuralTextures/c23/videos/010_011.mp4',
              'manipulated_sequences/FaceShifter/c23/videos/020_021.mp4',
              'manipulated_sequences/Deepfakes/masks/videos/000_003.mp4',
              'manipulated_sequences/DeepFakeDetection/c23/videos/01_02__exit_phone_room__YVGY8LOK.mp4']


def ffpp(root, lists=('train', 'val', 'test'), folder='dataset/splits'):
    for p in FFPP_FILES:
        video(root / p)
    pairs = {'train': [['000', '003']], 'val': [['010', '011']], 'test': [['020', '021']]}
    (root / folder).mkdir(parents=True, exist_ok=True)
    for split in lists:
        (root / folder / f'{split}.json').write_text(json.dumps(pairs[split]))
    return root


@pytest.mark.parametrize('folder', ['.', 'splits', 'dataset/splits'])
def test_ffpp_official_lists_dfd_faceshifter_neuraltextures(tmp_path, folder):
    t = by_name(read_source(ffpp(tmp_path, folder=folder)))
    assert 'Deepfakes_000_003_masks' not in t.index and len(t) == 13  # the masks are no videos of faces
    assert t.split.fillna('none').to_dict() == {
        'actors_01__exit_phone_room': 'none', 'actors_02__talking_against_wall': 'none', 'youtube_000': 'train',
        'youtube_003': 'train', 'youtube_010': 'val', 'youtube_011': 'val', 'youtube_020': 'test', 'youtube_021': 'test',
        'DeepFakeDetection_01_02__exit_phone_room__YVGY8LOK': 'none', 'Deepfakes_000_003': 'train',
        'Deepfakes_003_000': 'train', 'FaceShifter_020_021': 'test', 'NeuralTextures_010_011': 'val'}
    dfd = 'DeepFakeDetection_01_02__exit_phone_room__YVGY8LOK'
    assert t.original[dfd] == '01__exit_phone_room' and t.group[dfd] == t.group['actors_02__talking_against_wall']
    assert t.group['FaceShifter_020_021'] == t.group['youtube_021'] != t.group['youtube_000']


def test_ffpp_without_lists_is_silent_and_a_partial_set_says_what_is_missing(tmp_path):
    whole = read_source(ffpp(tmp_path / 'a', lists=()))
    assert (whole.status == '').all() and whole.split.isna().all()
    partial = read_source(ffpp(tmp_path / 'b', lists=('train', 'test')))
    errors = partial[partial.status == 'error']
    assert len(errors) == 1 and 'val.json' in errors.error.iloc[0] and 'missing' in errors.error.iloc[0]
    assert by_name(partial).split['youtube_020'] == 'test' and pd.isna(by_name(partial).split['youtube_010'])


def test_ffpp_two_compressions_keep_their_names_apart(tmp_path):
    for c in ('c23', 'c40'):
        video(tmp_path / f'original_sequences/youtube/{c}/videos/000.mp4')
        video(tmp_path / f'manipulated_sequences/Deepfakes/{c}/videos/000_003.mp4')
    t = read_sources([tmp_path])
    assert sorted(t.name) == ['Deepfakes_000_003_c23', 'Deepfakes_000_003_c40', 'youtube_000_c23', 'youtube_000_c40']


# --- DeeperForensics-1.0, UADFV, WildDeepfake, FakeAVCeleb --------------------------------------------------------

def test_deeperforensics(tmp_path):
    for p in ['manipulated_videos/end_to_end/000_M004.mp4', 'manipulated_videos/end_to_end/001_W101.mp4',
              'manipulated_videos/end_to_end_level_3/001_W101.mp4', 'manipulated_videos/reenact_postprocess/002_M004.mp4',
              'source_videos/M004/light_up/happy/camera_front/M004_light_up_happy_camera_front.mp4',
              'source_videos/W101/BlendShape/camera_down/W101_BlendShape_camera_down.mp4']:
        video(tmp_path / p)
    (tmp_path / 'lists' / 'splits').mkdir(parents=True)
    (tmp_path / 'lists' / 'splits' / 'train.txt').write_text('000_M004.mp4\n002_M004.mp4\n')
    (tmp_path / 'lists' / 'splits' / 'val.txt').write_text('003_M005.mp4\n')
    (tmp_path / 'lists' / 'splits' / 'test.txt').write_text('001_W101.mp4\n')
    assert detect_layout(tmp_path) == 'deeperforensics'
    t = by_name(read_source(tmp_path))
    assert t.label['M004_light_up_happy_camera_front'] == 'REAL' and t.label['end_to_end_level_3_001_W101'] == 'FAKE'
    assert t.split['end_to_end_level_3_001_W101'] == t.split['W101_BlendShape_camera_down'] == 'test'
    assert t.split['M004_light_up_happy_camera_front'] == 'train'  # the actor's fakes are on the training list
    assert t.group['end_to_end_000_M004'] == t.group['reenact_postprocess_002_M004'] == \
        t.group['M004_light_up_happy_camera_front'] != t.group['end_to_end_001_W101']
    assert t.status['end_to_end_003_M005'] == 'missing' and t.method['end_to_end_level_3_001_W101'] == 'end_to_end_level_3'


def test_uadfv(tmp_path):
    for p in ['real/0000.mp4', 'real/0001.mp4', 'fake/0000_fake.mp4', 'fake/0001_fake.mp4']:
        video(tmp_path / p)
    assert detect_layout(tmp_path) == 'uadfv'
    t = by_name(read_source(tmp_path))
    assert t.group['0000'] == t.group['0000_fake'] != t.group['0001'] and t.original['0001_fake'] == '0001'
    assert t.split.isna().all()


def test_wilddeepfake_sequences_archives_and_a_missing_folder(tmp_path):
    for seq in ['real_train/0/real/12', 'real_test/1/real/3', 'fake_test/2/fake/7', 'fake_test/2/fake/8']:
        (tmp_path / seq).mkdir(parents=True)
        for k in (0, 10):
            cv2.imwrite(str(tmp_path / seq / f'{k}.png'), noise_frames(1, (24, 24))[0])
    (tmp_path / 'real_train' / '0.tar.gz').write_bytes(b'')  # extracted: its folder 0/ is there
    (tmp_path / 'fake_test' / '5.tar.gz').write_bytes(b'')  # not extracted
    assert detect_layout(tmp_path) == 'wilddeepfake'
    t = read_source(tmp_path)
    ok = by_name(t[t.status == ''])
    assert ok.label.to_dict() == {'real_train_0_real_12': 'REAL', 'real_test_1_real_3': 'REAL',
                                  'fake_test_2_fake_7': 'FAKE', 'fake_test_2_fake_8': 'FAKE'}
    assert ok.split['real_test_1_real_3'] == 'test' and (ok.source == 'faces').all()
    assert ok.group['fake_test_2_fake_7'] == ok.group['fake_test_2_fake_8']
    errors = t.error[t.status == 'error'].tolist()
    assert len(errors) == 2 and any('5.tar.gz: not extracted' in e for e in errors)
    assert any('fake_train' in e and 'missing' in e for e in errors)


FAKEAVCELEB_META = '''source,target1,target2,method,category,type,race,gender,path,
id00076,-,-,real,A,RealVideo-RealAudio,African,men,00109.mp4,FakeAVCeleb/RealVideo-RealAudio/African/men/id00076
id00166,-,-,rtvc,B,RealVideo-FakeAudio,African,men,00010_id00166_fake.mp4,FakeAVCeleb/RealVideo-FakeAudio/African/men/id00166
id00076,id00476,-,faceswap,C,FakeVideo-RealAudio,African,men,00109_id00476_faceswap.mp4,FakeAVCeleb/FakeVideo-RealAudio/African/men/id00076
id00476,id00076,id00166,faceswap-wav2lip,D,FakeVideo-FakeAudio,African,men,00012_id00076_wavtolip.mp4,FakeAVCeleb/FakeVideo-FakeAudio/African/men/id00476
id00999,-,-,real,A,RealVideo-RealAudio,Asian,women,00001.mp4,FakeAVCeleb/RealVideo-RealAudio/Asian/women/id00999
id00998,-,-,real,A,RealVideo-RealAudio,Asian,women,../../x.mp4,FakeAVCeleb/RealVideo-RealAudio/Asian/women/id00998
'''


def test_fakeavceleb(tmp_path):
    for p in ['RealVideo-RealAudio/African/men/id00076/00109.mp4', 'RealVideo-FakeAudio/African/men/id00166/00010_id00166_fake.mp4',
              'FakeVideo-RealAudio/African/men/id00076/00109_id00476_faceswap.mp4',
              'FakeVideo-FakeAudio/African/men/id00476/00012_id00076_wavtolip.mp4']:
        video(tmp_path / p)
    (tmp_path / 'meta_data.csv').write_text(FAKEAVCELEB_META)
    assert detect_layout(tmp_path) == 'fakeavceleb'
    t = read_source(tmp_path)
    ok = by_name(t[t.status != 'error'])
    assert ok.label.to_dict() == {'RVRA_id00076_00109': 'REAL', 'RVFA_id00166_00010_id00166_fake': 'REAL',
                                  'FVRA_id00076_00109_id00476_faceswap': 'FAKE',
                                  'FVFA_id00476_00012_id00076_wavtolip': 'FAKE', 'RVRA_id00999_00001': 'REAL'}
    assert ok.audio_label['RVFA_id00166_00010_id00166_fake'] == 'FAKE' and pd.isna(ok.method['RVRA_id00076_00109'])
    assert ok.group['RVRA_id00076_00109'] == ok.group['FVFA_id00476_00012_id00076_wavtolip'] == \
        ok.group['RVFA_id00166_00010_id00166_fake']  # id00476's fake has id00076's face and id00166's voice
    assert ok.status['RVRA_id00999_00001'] == 'missing' and (t.status == 'error').sum() == 1


def test_every_set_has_a_layout_and_a_reader():
    assert set(READERS) <= set(LAYOUTS) and len(set(LAYOUTS)) == len(LAYOUTS)


def test_the_real_data_keeps_its_layouts():
    assert detect_layout(shared_data('ffpp_c23')) == 'ffpp' and detect_layout(shared_data('dfdc_sample')) == 'dfdc'
    assert detect_layout(shared_data('xdev') / 'celebdf') == 'folders'  # real/ + fake/, not UADFV's names


# --- the official split through preprocessing and deepfake split ------------------------------------------------

def ffpp_index(folder):
    "An index.csv as preprocess writes it for the FF++ tree above (every video ok)."
    from deepfake.preprocess import INDEX_COLUMNS, _index_row
    table = read_source(ffpp(folder / 'ffpp'))
    rows = [dict(_index_row(r), status='ok') for r in table.to_dict('records') if r['status'] == '']
    index = pd.DataFrame(rows, columns=INDEX_COLUMNS)
    (folder / 'faces').mkdir()
    index.to_csv(folder / 'faces' / 'index.csv', index=False)
    return folder / 'faces'


def test_split_follows_the_official_lists(tmp_path, capsys):
    faces = ffpp_index(tmp_path)
    code, out = run_cli(capsys, 'split', faces, '--official_split')
    assert code == 0 and 'left out: 3 videos of the official test list and 3 that no list names' in out
    split = pd.read_csv(faces / 'videos_df.csv', dtype=str).set_index('name')
    assert split.is_valid.to_dict() == {'youtube_000': 'False', 'youtube_003': 'False', 'youtube_010': 'True',
                                        'youtube_011': 'True', 'Deepfakes_000_003': 'False',
                                        'Deepfakes_003_000': 'False', 'NeuralTextures_010_011': 'True'}
    code, out = run_cli(capsys, 'split', faces, '--official_split', '--folds', '3', '--out', faces / 'f.csv')
    assert code == 2 and 'choose one' in out and len(out.strip().splitlines()) == 1


def test_official_split_without_lists_is_one_line(tmp_path, capsys):
    faces = ffpp_index(tmp_path)
    index = pd.read_csv(faces / 'index.csv').assign(official_split=None)
    index.to_csv(faces / 'index.csv', index=False)
    code, out = run_cli(capsys, 'split', faces, '--official_split')
    assert code == 2 and 'no official split' in out and len(out.strip().splitlines()) == 1


def test_a_set_without_a_validation_list_validates_on_whole_training_groups(tmp_path):
    from deepfake.split import make_split
    rows = [dict(name=f'v{k}', label=['REAL', 'FAKE'][k % 2], group=f'g{k // 2}', status='ok',
                 official_split='test' if k >= 16 else 'train') for k in range(20)]
    split = make_split(pd.DataFrame(rows), official=True, valid_frac=0.25)
    assert len(split) == 16 and split.is_valid.any() and split.groupby('group').is_valid.nunique().max() == 1
    assert split.attrs['valid_from'] == 'groups' and split.attrs['test'] == 4


def test_preprocess_keeps_the_official_split_in_the_index(tmp_path):
    from deepfake.preprocess import preprocess
    table = read_source(celebdf(tmp_path / 'Celeb-DF-v2'))
    index = preprocess(table, tmp_path / 'faces', frames=2, face_size=32, workers=1, progress=False)
    on_disk = pd.read_csv(tmp_path / 'faces' / 'index.csv', dtype=str).set_index('name')
    assert on_disk.official_split['id2_0003'] == 'test' and on_disk.official_split['id0_0000'] == 'train'
    assert index.set_index('name').status['id3_id0_0001'] == 'missing'


# --- deepfake benchmark -----------------------------------------------------------------------------------------

@pytest.fixture(scope='module')
def shipped_sets(demo_videos, tmp_path_factory):
    """The demo videos shipped two ways: their own DFDC layout, and Celeb-DF v2's, whose test list names half of
    them (and one that is not on disk)."""
    root = tmp_path_factory.mktemp('sets')
    meta = {k: v for part in demo_videos.glob('*/metadata.json') for k, v in json.loads(part.read_text()).items()}
    paths = {p.name: p for p in demo_videos.rglob('*.mp4')}
    person = {n: f'id{i}' for i, n in enumerate(sorted(k for k, v in meta.items() if v['label'] == 'REAL'))}
    listed = ['0 Celeb-synthesis/id90_id91_0000.mp4']
    for k, (name, info) in enumerate(sorted(meta.items())):
        real = info['label'] == 'REAL'
        folder, stem = ('Celeb-real', f'{person[name]}_0000') if real else \
            ('Celeb-synthesis', f"{person[info['original']]}_id{50 + k}_0000")
        (root / 'Celeb-DF-v2' / folder).mkdir(parents=True, exist_ok=True)
        shutil.copy(paths[name], root / 'Celeb-DF-v2' / folder / f'{stem}.mp4')
        if k % 2:
            listed.append(f'{int(real)} {folder}/{stem}.mp4')
    (root / 'Celeb-DF-v2' / 'List_of_testing_videos.txt').write_text('\n'.join(listed) + '\n')
    shutil.copytree(demo_videos, root / 'more' / 'dfdc')
    return root


def test_benchmark_scores_each_set_and_reuses_its_faces(shipped_sets, tiny_checkpoint, tmp_path, capsys):
    out = tmp_path / 'report'
    code, first = run_cli(capsys, 'benchmark', tiny_checkpoint, shipped_sets, '--out', out, '--workers', '1',
                          '--device', 'cpu')
    assert code == 0, first
    assert 'Celeb-DF-v2: faces of 6 videos extracted into' in first and 'dfdc: faces of 12 videos extracted' in first
    assert 'Celeb-DF-v2: 1 listed videos are not on disk' in first and 'mean over 2 sets' in first
    summary = json.loads((out / 'benchmark.json').read_text())
    celeb = summary['sets']['Celeb-DF-v2']
    assert celeb['scored_on'] == 'official test list' and celeb['videos'] == 6 and celeb['missing'] == 1
    assert summary['sets']['dfdc']['scored_on'] == 'all videos (no official test list)'
    assert summary['sets']['dfdc']['videos'] == 12 and 0 <= summary['mean']['auc'] <= 1
    scores = pd.read_csv(out / 'scores.csv')
    assert len(scores) == 18 and scores.fake_probability.between(0, 1).all()
    assert (out / 'benchmark.png').read_bytes()[:4] == b'\x89PNG' and '| set ' in (out / 'benchmark.md').read_text()

    code, second = run_cli(capsys, 'benchmark', tiny_checkpoint, shipped_sets, '--out', out, '--workers', '1',
                           '--device', 'cpu')
    assert code == 0 and 'extracted into' not in second
    assert 'Celeb-DF-v2: faces of 6 videos reused from' in second and 'nothing extracted' in second
    assert json.loads((out / 'benchmark.json').read_text())['sets'] == summary['sets']


def test_benchmark_refuses_files_it_did_not_write(shipped_sets, tiny_checkpoint, tmp_path, capsys):
    out = tmp_path / 'report'
    out.mkdir()
    (out / 'benchmark.md').write_text('my notes')
    code, text = run_cli(capsys, 'benchmark', tiny_checkpoint, shipped_sets, '--out', out)
    assert code == 2 and len(text.strip().splitlines()) == 1 and 'benchmark.md' in text
    assert (out / 'benchmark.md').read_text() == 'my notes' and not (out / 'faces').exists()
    (out / 'benchmark.md').unlink()
    (out / 'faces' / 'Celeb-DF-v2').mkdir(parents=True)
    (out / 'faces' / 'Celeb-DF-v2' / 'index.csv').write_text('name\nmine\n')  # somebody else's, with our name
    code, text = run_cli(capsys, 'benchmark', tiny_checkpoint, shipped_sets, '--out', out)
    assert code == 2 and len(text.strip().splitlines()) == 1 and 'index.csv' in text


def test_benchmark_with_no_set_is_one_line(tmp_path, tiny_checkpoint, capsys):
    video(tmp_path / 'loose' / 'a.mp4')
    code, text = run_cli(capsys, 'benchmark', tiny_checkpoint, tmp_path / 'loose', '--out', tmp_path / 'r')
    assert code == 2 and 'no labelled data set found' in text and len(text.strip().splitlines()) == 1

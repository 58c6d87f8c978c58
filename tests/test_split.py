"Tests of deepfake.split: whole groups, balance, valid_frac, determinism, stratification."
import pandas as pd
import pytest

from deepfake.split import (balance_downsample, balance_original, check_groups, make_split, read_index,
                            split_counts, write_split)


def dfdc_like(n_originals=50, fakes_per_original=4):
    "An index like DFDC's: each original with its fakes in one group (80% fake), plus unusable rows."
    rows = []
    for i in range(n_originals):
        real = f'real{i:03d}'
        rows.append(dict(name=real, label='REAL', original=None, group=real, source='dfdc', method=None, status='ok'))
        rows += [dict(name=f'fake{i:03d}_{k}', label='FAKE', original=real, group=real, source='dfdc',
                      method='deepfake', status='ok') for k in range(fakes_per_original)]
    rows += [dict(name='noface', label='FAKE', original='real000', group='real000', source='dfdc', status='no_face'),
             dict(name='broken', label='REAL', original=None, group='broken', source='dfdc', status='error'),
             dict(name='test', label=None, original=None, group='test', source='dfdc', status='ok')]
    return pd.DataFrame(rows)


@pytest.fixture
def index():
    return dfdc_like()


def test_columns_and_usable_rows(index):
    split = make_split(index)
    assert list(split.columns) == ['name', 'label', 'is_valid', 'group', 'source', 'method', 'original']
    assert not {'noface', 'broken', 'test'} & set(split.name)
    assert len(split) == 250 and split.is_valid.dtype == bool


@pytest.mark.parametrize('balance', [None, 'original', 'downsample'])
@pytest.mark.parametrize('seed', [0, 1, 42])
def test_groups_stay_whole(index, balance, seed):
    split = make_split(index, seed=seed, balance=balance)
    assert split.groupby('group').is_valid.nunique().max() == 1
    check_groups(split)


def test_check_groups_raises_on_leak():
    with pytest.raises(AssertionError, match="'g'"):
        check_groups(pd.DataFrame(dict(group=['g', 'g', 'h'], is_valid=[True, False, False])))


def test_valid_frac_and_stratified(index):
    for frac in (0.1, 0.2, 0.3):
        counts = split_counts(make_split(index, valid_frac=frac))
        assert counts.loc['valid', 'total'] / counts.loc['total', 'total'] == pytest.approx(frac, abs=0.03)
        for label in ('REAL', 'FAKE'):
            assert counts.loc['valid', label] / counts.loc['total', label] == pytest.approx(frac, abs=0.03)


def test_both_classes_in_tiny_validation():
    "Three originals with four fakes each: no group fits the 20% shares, one is taken anyway."
    counts = split_counts(make_split(dfdc_like(n_originals=3)))
    assert (counts.loc[['train', 'valid'], ['REAL', 'FAKE']] > 0).all().all()


def test_deterministic_per_seed(index):
    pd.testing.assert_frame_equal(make_split(index, seed=3, balance='original'),
                                  make_split(index, seed=3, balance='original'))
    assert not make_split(index, seed=3).is_valid.equals(make_split(index, seed=4).is_valid)


def test_balance_original_keeps_reals_and_one_fake_per_original(index):
    split = make_split(index, balance='original')
    assert (split.label == 'REAL').sum() == (split.label == 'FAKE').sum() == 50
    assert split[split.label == 'FAKE'].original.is_unique
    picks = [set(balance_original(index, seed).name) for seed in (0, 1)]
    assert picks[0] != picks[1]


def test_balance_original_orphans_and_fakes_without_original():
    index = pd.DataFrame(dict(name=['f1', 'f2', 'f3', 'f4', 'f5'], label='FAKE', status='ok',
                              original=['gone', 'gone', 'gone2', None, None], group='g'))
    assert len(balance_original(index)) == 4


def test_balance_downsample(index):
    split = make_split(index, balance='downsample')
    assert split.label.value_counts().to_dict() == {'REAL': 50, 'FAKE': 50}
    assert len(balance_downsample(index[index.status == 'ok'].dropna(subset=['label']))) == 100


def test_errors(index):
    with pytest.raises(ValueError, match='no labelled video with status ok'):
        make_split(index.assign(status='no_face'))
    with pytest.raises(ValueError, match='no labelled video'):
        make_split(index.assign(label=None))
    with pytest.raises(ValueError, match='balance'):
        make_split(index, balance='up')
    with pytest.raises(ValueError, match='original'):
        make_split(index.drop(columns='original'), balance='original')


def test_write_split_roundtrip(tmp_path, capsys):
    index = pd.DataFrame(dict(name=['000', '003', '000_003', '001', '002', '001_002'],
                              label=['REAL', 'REAL', 'FAKE', 'REAL', 'REAL', 'FAKE'], status='ok',
                              original=[None, None, '000', None, None, '001'],
                              group=['000', '000', '000', '001', '001', '001'], source='ffpp'))
    index.to_csv(tmp_path / 'index.csv', index=False)
    assert read_index(tmp_path / 'index.csv').name[0] == '000'
    split = write_split(tmp_path / 'index.csv', tmp_path / 'out' / 'videos_df.csv', valid_frac=0.5)
    assert 'valid' in capsys.readouterr().out
    back = pd.read_csv(tmp_path / 'out' / 'videos_df.csv', dtype={'name': str, 'group': str})
    assert back.name.tolist() == split.name.tolist() and back.is_valid.tolist() == split.is_valid.tolist()
    assert split.is_valid.any() and not split.is_valid.all()


def test_folds_keep_groups_whole_and_spread_the_classes():
    from deepfake.split import make_split
    rows = [dict(name=f'v{g}_{k}', label='FAKE' if k else 'REAL', group=f'g{g}', status='ok', source='x',
                 original=None if not k else f'v{g}_0') for g in range(20) for k in range(3)]
    split = make_split(pd.DataFrame(rows), folds=5, seed=0)
    assert split.groupby('group').fold.nunique().max() == 1 and sorted(split.fold.unique()) == [0, 1, 2, 3, 4]
    assert (split.is_valid == (split.fold == 0)).all()
    counts = pd.crosstab(split.fold, split.label)
    assert counts.REAL.min() >= 3 and counts.FAKE.min() >= 6
    with pytest.raises(ValueError, match='--folds 30'):
        make_split(pd.DataFrame(rows), folds=30)

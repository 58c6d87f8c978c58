"bench/xdev.py, the cross-dataset figures of record: source groups from xdev's README, per-part figures, the tables."
import importlib.util
import json
from pathlib import Path

import numpy as np
import pandas as pd

spec = importlib.util.spec_from_file_location('xdev', Path(__file__).parents[1] / 'bench' / 'xdev.py')
xdev = importlib.util.module_from_spec(spec)
spec.loader.exec_module(xdev)


def test_source_groups_keep_a_fake_with_the_clip_it_was_made_from():
    g = xdev.source_group
    assert g('w2l_akash_result_voice') == g('w2lin_akash_video_8s') == g('w2l_ysh21sa_result') == 'av-shirt'
    assert g('hyperlips_result_video2') == g('hyperlipsin_video2') == 'video2'
    assert g('dfdcface_aejvkfbtxs_0_0') == g('dfdcface_aejvkfbtxs_0_1') != g('dfdcface_acagallncj_0_0')
    assert g('dfdcface_aayrffkzxn_0_0') == g('dfdcface_abhggqdift_0_0')
    assert g('cdf_celeb-real_id29_0000') == 'cdf_celeb-real_id29_0000'  # any other video: a group alone


def ood_rows(folder, reals, fakes, rng):
    names = [f'w2lin_r{k}' for k in range(reals)] + [f'w2l_f{k}_result_voice' for k in range(fakes)]
    return pd.DataFrame(dict(folder=folder, name=names, label=['REAL'] * reals + ['FAKE'] * fakes,
                             fake_probability=np.r_[rng.uniform(0, .6, reals), rng.uniform(.4, 1, fakes)]))


def test_a_run_gives_per_part_figures_and_the_tables(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    cv = tmp_path / 'cv' / 'run'
    cv.mkdir(parents=True)
    m = dict(value=0.7, low=0.6, high=0.8)
    summary = dict(recipe='recipes/x.yaml', minutes=12.5, auc=m, log_loss=m, by_method=dict(Deepfakes=m, Face2Face=m,
                   FaceSwap=m), out_of_domain={'out/faces_real_extra': dict(videos=42, real_called_fake=0.25)})
    (cv / 'crossval.json').write_text(json.dumps(summary))
    pd.concat([ood_rows('out/xdev_lipsync', 6, 20, rng), ood_rows('out/xdev_dfdc', 1, 19, rng),
               ood_rows('out/faces_real_extra', 42, 0, rng)]).to_csv(cv / 'ood.csv', index=False)
    monkeypatch.setattr(xdev, 'RESULTS', tmp_path / 'results')
    (tmp_path / 'results').mkdir()
    (tmp_path / 'results' / 'run.json').write_text(json.dumps(summary))  # as bench/quality.sh copies it
    assert xdev.main([str(cv)]) == 0
    s = json.loads((tmp_path / 'results' / 'run.xdev.json').read_text())
    assert list(s['parts']) == ['dfdc', 'lipsync']  # real_extra is no xdev part
    lip = s['parts']['lipsync']
    assert (lip['reals'], lip['fakes']) == (6, 20) and lip['auc']['low'] <= lip['auc']['value'] <= lip['auc']['high']
    assert lip['by_prefix']['w2l fake']['videos'] == 20 and 'auc' not in lip['by_prefix']['w2lin real']
    assert s['mean_auc'] == np.mean([s['parts'][p]['auc']['value'] for p in ('dfdc', 'lipsync')])
    table, ffpp = xdev.table(), xdev.ffpp_table()
    row = table.splitlines()[2]
    # the mean over parts with 2+ reals leaves dfdc's one real out; so does the worst share of reals called FAKE
    assert f"{lip['auc']['value']:.3f} |" in row and '(lipsync)' in row and '12.5 min' in row
    assert '`recipes/x.yaml`' in ffpp and '25% of 42' in ffpp

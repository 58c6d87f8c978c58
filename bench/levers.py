"""The generalization levers of issue 29 that are not recipes of their own, each an arm on the cross-dataset table
(`bench/xdev.py --table`), measured on the folders `bench/quality.sh` made (bench/out/quality):

    python bench/levers.py flips ffpp_frames        # e: test-time flips, and one fold model against the 5 together
    python bench/levers.py lopo recipes/ffpp_frames.yaml   # c: FF++ plus every xdev part but the one scored
    python bench/levers.py partial ffpp_sbi_paper   # a cross-validation stopped part-way: its finished folds

`flips` rescores a finished cross-validation: the FF++ out-of-fold videos with each fold's model on the clips and
their mirror images, and every xdev part with the 5 fold models' mean on both; it also reports each fold model alone.
`lopo` trains one model a part, with the recipe on FF++'s training folds plus the four other xdev parts
(`--extra_data`), and scores the part it left out; FF++'s column is fold 0 only (20 videos, no interval).
`partial` reads a cross-validation that was stopped before its last fold: the out-of-fold FF++ figure over the
finished folds' videos, every xdev part with those fold models' mean; a figure of fewer models and videos than a row.
Each writes bench/results/quality/<arm>.xdev.json and prints its line; wall times are in the JSON.
"""
import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from xdev import PARTS, RESULTS, line, part_summary  # noqa: E402  (bench/xdev.py)

from deepfake.args import parse_args  # noqa: E402
from deepfake.checkpoints import checkpoint_file  # noqa: E402
from deepfake.crossval import oof_summary, score_clips, score_folder  # noqa: E402
from deepfake.split import read_split  # noqa: E402

OUT = Path(__file__).resolve().parent / 'out' / 'quality'


def xdev_figures(name, models, flip, ffpp_auc, minutes, recipe):
    "The cross-dataset summary (bench/xdev.py's schema) of `models` (their mean) on every xdev part."
    parts = {p: part_summary(score_folder(models, OUT / f'xdev_{p}', flip=flip)) for p in PARTS}
    aucs = [s['auc']['value'] for s in parts.values() if not math.isnan(s['auc']['value'])]
    return dict(name=name, recipe=recipe, minutes=round(minutes, 1), ffpp_auc=ffpp_auc, parts=parts,
                mean_auc=float(np.mean(aucs)))


def fold_models(cv, split, folds, flip=False):
    "The chosen checkpoints of `folds` of the cross-validation `cv`, and the FF++ summary and scores of their videos."
    models = [checkpoint_file(cv / f'fold{k}') for k in folds]
    oof = pd.concat([score_clips(m, OUT / 'faces', cv / f'fold{k}.csv', flip=flip) for k, m in zip(folds, models)])
    return models, oof_summary(split.merge(oof, on='name')), oof


def flips(run):
    "Arm e on the cross-validation `run` (a folder name under bench/out/quality/cv)."
    cv, start = OUT / 'cv' / run, time.perf_counter()
    crossval = json.loads((cv / 'crossval.json').read_text())
    split = read_split(OUT / 'faces' / 'videos_df.csv')
    folds = sorted(split.fold.unique())
    models, ffpp, _ = fold_models(cv, split, folds, flip=True)
    rescored = xdev_figures(f'{run}_flips', models, True, ffpp['auc'], 0, crossval['recipe'])
    alone = [xdev_figures(f'{run}_fold{k}', [m], False, crossval['auc'], 0, crossval['recipe'])['mean_auc']
             for k, m in zip(folds, models)]
    rescored['minutes'] = round(crossval['minutes'] + (time.perf_counter() - start) / 60, 1)
    rescored['note'] = (f'the {len(models)} fold models of {run}, each on the clips and their mirror images; one fold '
                        f'model alone scores a mean AUC over parts of {min(alone):.3f}–{max(alone):.3f} '
                        f'(the 5 together, without flips: see {run})')
    return rescored


def finished(exp):
    "Whether the run folder `exp` holds a run trained to the end of its schedule."
    if not (exp / 'metrics.csv').exists():
        return False
    return len(pd.read_csv(exp / 'metrics.csv')) == json.loads((exp / 'args.json').read_text())['epochs']


def lopo(recipe):
    "Arm c with `recipe`: one model a left-out xdev part."
    from deepfake.trainer import train
    name, start = f'{Path(recipe).stem}_lopo', time.perf_counter()
    runs, parts, valid_aucs = OUT / 'levers' / name, {}, []
    for part in PARTS:
        others = [str(OUT / f'xdev_{p}') for p in PARTS if p != part]
        exp = runs / f'without_{part}'
        if not finished(exp):  # a run stopped part-way starts again
            train(parse_args(['-c', recipe, '--root_dir', str(OUT / 'faces'), '--save_model_path', str(runs),
                              '--exp_name', exp.name, '--log_interval', '0', '--extra_data', *others,
                              *(['--overwrite'] if exp.exists() else [])]))
        parts[part] = part_summary(score_folder([checkpoint_file(exp)], OUT / f'xdev_{part}'))
        valid_aucs.append(pd.read_csv(exp / 'metrics.csv').valid_auc.iloc[-1])
    aucs = [s['auc']['value'] for s in parts.values() if not math.isnan(s['auc']['value'])]
    ffpp = dict(value=float(np.mean(valid_aucs)), low=math.nan, high=math.nan)
    return dict(name=name, recipe=recipe, minutes=round((time.perf_counter() - start) / 60, 1), ffpp_auc=ffpp,
                parts=parts, mean_auc=float(np.mean(aucs)),
                note='one model a part: FF++ training folds plus the four other xdev parts; FF++ column: fold 0 '
                     '(20 videos), the mean of the 5 models, no interval')


def partial(run):
    "The finished folds of the stopped cross-validation `run`: their out-of-fold FF++ videos, their mean on xdev."
    cv = OUT / 'cv' / run
    split = read_split(OUT / 'faces' / 'videos_df.csv')
    args = json.loads((cv / 'fold0' / 'args.json').read_text())
    folds = [k for k in sorted(split.fold.unique()) if finished(cv / f'fold{k}')]
    models, ffpp, oof = fold_models(cv, split, folds)
    minutes = sum(pd.read_csv(cv / f'fold{k}' / 'metrics.csv').seconds.sum() for k in folds) / 60
    s = xdev_figures(f'{run}_partial', models, False, ffpp['auc'], minutes, args.get('config') or run)
    done = ', '.join(map(str, folds))
    s['note'] = (f'{len(folds)} of {split.fold.nunique()} folds finished (folds {done}): FF++ over their {len(oof)} '
                 f'out-of-fold videos, xdev with the mean of {len(folds)} fold models; minutes: their training only')
    return s


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('arm', choices=['flips', 'lopo', 'partial'])
    p.add_argument('what', help='flips, partial: a crossval run name; lopo: a recipe file')
    args = p.parse_args(argv)
    s = dict(flips=flips, lopo=lopo, partial=partial)[args.arm](args.what)
    (RESULTS / f"{s['name']}.xdev.json").write_text(json.dumps(s, indent=1))
    print(line(s) + (f"; {s['note']}" if s.get('note') else ''))
    return 0


if __name__ == '__main__':
    sys.exit(main())

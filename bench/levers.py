"""The generalization levers of issue 29 that are not recipes of their own, each an arm on the cross-dataset table
(`bench/xdev.py --table`), measured on the folders `bench/quality.sh` made (bench/out/quality):

    python bench/levers.py flips ffpp_frames        # e: test-time flips, and one fold model against the 5 together
    python bench/levers.py lopo recipes/ffpp_sbi.yaml --clips_per_video 4   # c: every source but the one scored
    python bench/levers.py single recipes/ffpp_sbi.yaml     # what train.py -c makes: one model, not 5 folds
    python bench/levers.py partial ffpp_sbi_paper   # a cross-validation stopped part-way: its finished folds

`flips` rescores a finished cross-validation: the FF++ out-of-fold videos with each fold's model on the clips and
their mirror images, and every xdev part with the 5 fold models' mean on both; it also reports each fold model alone.
`lopo` trains one model a part, with the recipe on FF++'s training folds plus the four other xdev parts
(`--extra_data`) and real_extra's reals (`--extra_real`), and scores the part it left out; FF++'s column is fold 0
only (20 videos, no interval). `single` trains the one model a user gets from `train.py -c RECIPE` and scores it on
FF++'s 20 held-out videos and on every source it did not train on.
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
from xdev import PARTS, RESULTS, line, part_of, part_summary  # noqa: E402  (bench/xdev.py)

from deepfake.args import parse_args  # noqa: E402
from deepfake.checkpoints import checkpoint_file, load_checkpoint  # noqa: E402
from deepfake.crossval import called_fake, oof_summary, score_clips, score_folder  # noqa: E402
from deepfake.files import write_atomic  # noqa: E402
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


def lopo(recipe, extra=()):
    """Arm c with `recipe`: one model a left-out xdev part, trained on FF++'s training folds, the four other xdev parts
    (`--extra_data`: their reals only under `fakes: sbi`) and real_extra's 42 real clips (`--extra_real`), that is every
    source the project holds but the one scored. `extra`: more train.py flags (an arm of its own: its name says them).
    Every left-out part's scores are kept (bench/results/quality/<name>.ood.csv): pooled, they are one out-of-domain
    set of 105 videos that no model trained on (`python bench/levers.py pooled`)."""
    from deepfake.trainer import train
    name, start = f"{Path(recipe).stem}_lopo{''.join(extra).replace('--', '_')}", time.perf_counter()
    runs, parts, valid_aucs, scores = OUT / 'levers' / name, {}, [], []
    for part in PARTS:
        others = [str(OUT / f'xdev_{p}') for p in PARTS if p != part]
        exp = runs / f'without_{part}'
        if not finished(exp):  # a run stopped part-way starts again
            train(parse_args(['-c', recipe, '--root_dir', str(OUT / 'faces'), '--save_model_path', str(runs),
                              '--exp_name', exp.name, '--log_interval', '0', '--extra_data', *others,
                              '--extra_real', str(OUT / 'faces_real_extra'), *extra,
                              *(['--overwrite'] if exp.exists() else [])]))
        scored = score_folder([checkpoint_file(exp)], OUT / f'xdev_{part}')
        parts[part] = part_summary(scored)
        scores.append(scored.assign(folder=f'xdev_{part}'))
        valid_aucs.append(pd.read_csv(exp / 'metrics.csv').valid_auc.iloc[-1])
    aucs = [s['auc']['value'] for s in parts.values() if not math.isnan(s['auc']['value'])]
    ffpp = dict(value=float(np.mean(valid_aucs)), low=math.nan, high=math.nan)
    write_atomic(RESULTS / f'{name}.ood.csv', pd.concat(scores).to_csv(index=False))
    return dict(name=name, recipe=recipe, minutes=round((time.perf_counter() - start) / 60, 1), ffpp_auc=ffpp,
                parts=parts, mean_auc=float(np.mean(aucs)),
                note='one model a part: FF++ training folds, the four other xdev parts and real_extra; FF++ column: '
                     'fold 0 (20 videos), the mean of the 5 models, no interval')


def single(recipe, extra=()):
    """What a user gets: the one model `train.py -c RECIPE` trains on FF++'s training side (fold 0 of the 5-fold split
    held out: 74 videos to train, 20 to validate), scored on the held-out FF++ videos (an interval over their groups)
    and on every source it did not train on; `extra`: more train.py flags (`--extra_data`, `--extra_real`: the folders
    it names are then not scored). Scores in bench/results/quality/<name>.ood.csv, like a cross-validation's."""
    from deepfake.trainer import train
    name = f"{Path(recipe).stem}_single{''.join(a for a in extra if a.startswith('--')).replace('--', '_')}"
    exp, start = OUT / 'levers' / name, time.perf_counter()
    if not finished(exp):
        train(parse_args(['-c', recipe, '--root_dir', str(OUT / 'faces'), '--save_model_path', str(OUT / 'levers'),
                          '--exp_name', name, '--log_interval', '0', *extra, *(['--overwrite'] if exp.exists() else [])]))
    model = checkpoint_file(exp)
    split = read_split(OUT / 'faces' / 'videos_df.csv')
    held_out = split.merge(score_clips(model, OUT / 'faces', 'videos_df.csv'), on='name')
    trained_on = {Path(f).name for f in extra if (OUT / Path(f).name).is_dir()}
    scores = [score_folder([model], OUT / f).assign(folder=f) for f in
              [f'xdev_{p}' for p in PARTS] + ['faces_real_extra', 'faces_dfdc'] if f not in trained_on]
    scores = pd.concat(scores) if scores else pd.DataFrame(columns=['name', 'label', 'group', 'fake_probability', 'folder'])
    write_atomic(RESULTS / f'{name}.ood.csv', scores.to_csv(index=False))
    stored = load_checkpoint(model).get('threshold') or {}
    threshold = (stored.get('by_aggregate') or {}).get('model')  # scores here are the model's own video scores
    parts = {p: part_summary(rows, threshold) for p in PARTS for f, rows in scores.groupby('folder') if f == f'xdev_{p}'}
    others = {f: dict(videos=len(rows), real_called_fake_at=called_fake(rows.fake_probability[rows.label == 'REAL'],
                                                                        threshold if threshold is not None else 0.5))
              for f, rows in scores.groupby('folder') if not part_of(f)}
    aucs = [v['auc']['value'] for v in parts.values() if not math.isnan(v['auc']['value'])]
    minutes = pd.read_csv(exp / 'metrics.csv').seconds.sum() / 60
    return dict(name=name, recipe=recipe, flags=list(extra), minutes=round(minutes, 1), threshold=stored,
                ffpp_auc=oof_summary(held_out)['auc'], parts=parts, mean_auc=float(np.mean(aucs)) if aucs else math.nan,
                other_sources=others,
                note=f'one model, as train.py -c {recipe} makes it ({" ".join(extra) or "FF++ only"}); FF++ column: the '
                     f'{len(held_out)} held-out videos of fold 0; minutes: its training ({time.perf_counter() - start:.0f} s '
                     'with scoring)')


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
    p.add_argument('arm', choices=['flips', 'lopo', 'single', 'partial'])
    p.add_argument('what', help='flips, partial: a crossval run name; lopo, single: a recipe file')
    p.add_argument('extra', nargs=argparse.REMAINDER, help='lopo, single: more train.py flags, e.g. --fakes both')
    args = p.parse_args(argv)
    arms = dict(flips=flips, lopo=lambda what: lopo(what, args.extra), single=lambda what: single(what, args.extra),
                partial=partial)
    s = arms[args.arm](args.what)
    write_atomic(RESULTS / f"{s['name']}.xdev.json", json.dumps(s, indent=1))
    print(line(s) + (f"; {s['note']}" if s.get('note') else ''))
    return 0


if __name__ == '__main__':
    sys.exit(main())

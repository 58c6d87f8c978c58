"""Cross-dataset figures, DeepfakeBench's protocol (train on FaceForensics++, score data from elsewhere), from a
`deepfake crossval` run's out-of-domain scores (`ood.csv`: the 5 fold models' mean) on the five parts of
../shared/data/xdev. Per part: video AUC with a 95% interval from a bootstrap over source clips (a fake together with
the real clip it was made from, or the videos of one person, as xdev's README tells them; any other video alone), log
loss, the shares of the reals and of the fakes called FAKE at 0.5, and AUC per file-name prefix (a generator's fakes
against all the part's reals); then the mean AUC over the parts, DeepfakeBench's "avg" column.

    python bench/xdev.py bench/out/quality/cv/ffpp_frames     # one run: bench/results/quality/ffpp_frames.xdev.json
    python bench/xdev.py --table                              # BENCHMARKS.md's tables, from bench/results/quality
    python bench/xdev.py --paired NEW OLD                     # two runs on the pooled 105 videos, paired bootstrap

`dfdc` holds one real video: its AUC ranks that one real among 19 fakes, so read its fakes called FAKE instead.
"""
import argparse
import json
import math
import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from deepfake.crossval import called_fake
from deepfake.files import write_atomic
from deepfake.metrics import auc, format_ci, log_loss, with_ci

PARTS = ('celebdf', 'dfdc', 'lipsync', 'talking_heads', 'faceswap_tools')
RESULTS = Path(__file__).resolve().parent / 'results' / 'quality'
# (pattern at the start of a video's name, its source group), from xdev/README.md: a fake with the real clip it was
# made from, or the clips of one person; the first pattern that matches wins, and any other video is a group alone
SOURCE_GROUPS = [
    (r'w2l(in)?_(akash|salwinat0r|darshitha|ysh21sa)_', 'av-shirt'),  # one person: the "AV" t-shirt studio clip
    (r'w2l(in)?_alvate_', 'alvate'),
    (r'nltm_dictator_', 'dictator'),
    (r'nltm_bazigar_', 'bazigar'),
    (r'hyperlips(in)?_(result|result_voice|M003-002)$', 'M003-002'),
    (r'hyperlips(in)?_(result_)?(video\d+)$', r'\3'),
    (r'lp(out|src)_(s\d+)(--|$)', r'\2'),
    (r'ghost_', 'ghost'),
    (r'dfdcface_(aayrffkzxn|abhggqdift)_', 'aayrffkzxn'),  # the one real and a fake of the same scene
    (r'dfdcface_([a-z]+)_', r'\1'),  # the chunks of one DFDC video
]


def source_group(name):
    "The source clip a video of xdev belongs to (see SOURCE_GROUPS)."
    for pattern, group in SOURCE_GROUPS:
        match = re.match(pattern, name)
        if match:
            return match.expand(group)
    return name


def part_of(folder):
    "The xdev part a faces folder holds, by its name (`xdev_<part>`), or None."
    name = Path(folder).name
    return next((p for p in PARTS if name == f'xdev_{p}'), None)


def part_summary(df, threshold=None):
    """The figures of one part's scores (columns name, label, fake_probability); with `threshold` (a run's stored
    operating threshold), also the shares of its reals and fakes called FAKE at it."""
    y, p = (df.label == 'FAKE').astype(int).to_numpy(), df.fake_probability.to_numpy()
    groups = df.name.map(source_group).to_numpy()
    prefixes, reals = {}, df[df.label == 'REAL']
    for (prefix, label), rows in df.groupby([df.name.str.split('_').str[0], df.label]):
        entry = dict(videos=len(rows), called_fake=called_fake(rows.fake_probability))
        if label == 'FAKE':  # a generator's fakes against all the part's reals
            both = pd.concat([rows, reals])
            entry['auc'] = auc((both.label == 'FAKE').astype(int), both.fake_probability)
        prefixes[f'{prefix} {label.lower()}'] = entry
    at = {} if threshold is None else dict(threshold=threshold, real_called_fake_at=called_fake(p[y == 0], threshold),
                                           fake_called_fake_at=called_fake(p[y == 1], threshold))
    return dict(videos=len(df), reals=int(len(y) - y.sum()), fakes=int(y.sum()), groups=len(set(groups)),
                auc=with_ci(y, p, groups, auc), log_loss=with_ci(y, p, groups, log_loss),
                real_called_fake=called_fake(p[y == 0]), fake_called_fake=called_fake(p[y == 1]), by_prefix=prefixes, **at)


def parts_of(ood, threshold=None):
    "`parts` (each xdev part's figures, `part_summary`) and `mean_auc` of scores with a `folder` column (ood.csv)."
    parts = {part_of(f): part_summary(rows, threshold) for f, rows in ood.groupby('folder') if part_of(f)}
    parts = {p: parts[p] for p in PARTS if p in parts}
    aucs = [s['auc']['value'] for s in parts.values() if not math.isnan(s['auc']['value'])]
    return dict(parts=parts, mean_auc=float(np.mean(aucs)) if aucs else math.nan)


def summarize(cv, name=None):
    """The cross-dataset figures of the crossval folder `cv` (its crossval.json and ood.csv), or with `name` of the
    copies bench/quality.sh keeps of them in `cv` (bench/results/quality: <name>.json and <name>.ood.csv)."""
    cv = Path(cv)
    run = json.loads((cv / (f'{name}.json' if name else 'crossval.json')).read_text())
    ood = pd.read_csv(cv / (f'{name}.ood.csv' if name else 'ood.csv'), dtype={'name': str})
    return dict(name=name or cv.name, recipe=run['recipe'], minutes=run['minutes'], ffpp_auc=run['auc'], **parts_of(ood))


fmt = format_ci  # a figure with its interval, or why it has none


def line(s):
    "One summary line of a run."
    parts = ', '.join(f"{p} {fmt(v['auc'])} (reals called FAKE {v['real_called_fake']:.0%})" for p, v in s['parts'].items())
    return (f"xdev: {s['name']}: FF++ 5-fold {fmt(s['ffpp_auc'])}; {parts}; mean AUC over parts {s['mean_auc']:.3f} "
            '(targets: mean >= 0.75, no part of 20+ videos below 0.65, reals called FAKE <= 20% in every part)')


MIN_REALS = 2  # a part with fewer reals (dfdc: one) ranks that one video among the fakes: no AUC of record


def table():
    """The markdown table of every run with cross-dataset figures in bench/results/quality: per part its AUC with its
    interval and the share of its reals called FAKE; the mean over all parts (DeepfakeBench's "avg") and over the parts
    with MIN_REALS reals or more."""
    runs = [s for path in sorted(RESULTS.glob('*.xdev.json')) if (s := json.loads(path.read_text()))['parts']
            and not ('_single' in s['name'] or '_lopo' in s['name'])]  # one-model runs: `users_table`
    sizes = {p: v for s in runs for p, v in s['parts'].items()}
    heads = [f"{p} ({sizes[p]['reals']} real, {sizes[p]['fakes']} fake)" if p in sizes else p for p in PARTS]
    rows = ['| run | FF++ 5-fold | ' + ' | '.join(heads) + f' | mean over parts | mean over parts with {MIN_REALS}+ reals | '
            'most reals called FAKE | wall |', '|---|---|' + '---|' * len(PARTS) + '---|---|---|---|']
    for s in runs:
        cells = [f"{fmt(s['parts'][p]['auc'])}; {s['parts'][p]['real_called_fake']:.0%}" if p in s['parts'] else ''
                 for p in PARTS]
        kept = {p: v for p, v in s['parts'].items() if v['reals'] >= MIN_REALS}
        mean_kept = np.mean([v['auc']['value'] for v in kept.values()])
        worst = max(kept.items(), key=lambda kv: kv[1]['real_called_fake'])
        rows.append(f"| `{s['name']}` | {fmt(s['ffpp_auc'])} | " + ' | '.join(cells) + f" | **{s['mean_auc']:.3f}** | "
                    f"{mean_kept:.3f} | {worst[1]['real_called_fake']:.0%} ({worst[0]}) | {s['minutes']} min |")
    return '\n'.join(rows)


def pooled(run):
    """The pooled figures of `run` over every xdev video it scored (its ood.csv): AUC with a 95% interval over source
    clips, and the shares of the reals and fakes called FAKE at 0.5 and at its stored threshold; None without scores."""
    if not (RESULTS / f'{run}.ood.csv').exists():
        return None
    scores = pooled_scores(run).reset_index()
    if scores.empty:
        return None
    s = json.loads((RESULTS / f'{run}.xdev.json').read_text())
    threshold = ((s.get('threshold') or {}).get('by_aggregate') or {}).get('model')
    y, p = (scores.label == 'FAKE').astype(int).to_numpy(), scores.fake_probability.to_numpy()
    groups = (scores.part + '/' + scores.name.map(source_group)).to_numpy()
    at = lambda t: (called_fake(p[y == 0], t), called_fake(p[y == 1], t))
    return dict(videos=len(y), auc=with_ci(y, p, groups, auc), at_half=at(0.5),
                at_threshold=at(threshold) if threshold is not None else None)


def users_table():
    """What users get (issue 37): every single-model run (`bench/levers.py single`) and the leave-one-source-out arm,
    with the FF++ videos they held out, the pooled xdev figure, the threshold they stored and what it calls FAKE."""
    rows = ['| run | trains on | FF++ held out (fold 0, 20 videos) | pooled xdev AUC [95%], 105 videos | reals / fakes '
            'called FAKE at 0.5 | at its threshold (chosen on N held-out reals) | real_extra called FAKE at it | '
            'mean over parts | training |', '|---|---|---|---|---|---|---|---|---|']
    for path in sorted(RESULTS.glob('*.xdev.json')):
        s = json.loads(path.read_text())
        if not ('_single' in s['name'] or '_lopo' in s['name']):
            continue
        pool, t = pooled(s['name']), s.get('threshold') or {}
        share = lambda pair: '–' if pair is None else ' / '.join('–' if v != v else f'{v:.0%}' for v in pair)
        extra = (s.get('other_sources') or {}).get('faces_real_extra', {}).get('real_called_fake_at')
        trains = ' '.join(a if a.startswith('--') else Path(a).name for a in s.get('flags') or [])
        trains = ('FF++ training folds' if '_single' in s['name'] and not trains else
                  'FF++ training folds, the 4 other xdev parts, real_extra' if '_lopo' in s['name'] else
                  f'FF++ training folds {trains}')
        rows.append(f"| `{s['name']}` | {trains} | {fmt(s['ffpp_auc'])} | "
                    f"{fmt(pool['auc']) if pool else 'trained on them'} | {share(pool['at_half']) if pool else '–'} | "
                    + (f"{share(pool['at_threshold']) if pool else '–'} ({t['by_aggregate']['model']:.3f}, {t['reals']} reals)"
                       if t else '– (none stored)') + f" | {'–' if extra is None else f'{extra:.0%}'} | "
                    f"{'–' if s['mean_auc'] != s['mean_auc'] else round(s['mean_auc'], 3)} | {s['minutes']} min |")
    return '\n'.join(rows)


def ffpp_table():
    "The markdown table of the same runs' FF++ 5-fold figures (their crossval.json copies), per method, and real_extra."
    rows = ['| run | recipe | FF++ video AUC [95%] | log loss [95%] | Deepfakes | Face2Face | FaceSwap | '
            'real_extra called FAKE | wall |', '|---|---|---|---|---|---|---|---|---|']
    for path in sorted(RESULTS.glob('*.xdev.json')):
        name = json.loads(path.read_text())['name']
        if not (RESULTS / f'{name}.json').exists():  # an arm of bench/levers.py: no cross-validation of its own
            continue
        s = json.loads((RESULTS / f'{name}.json').read_text())
        extra = next(v for k, v in s['out_of_domain'].items() if k.endswith('faces_real_extra'))
        extra = 'trained on' if extra.get('trained_on') else f"{extra['real_called_fake']:.0%} of {extra['videos']}"
        methods = ' | '.join(fmt(s['by_method'][m]) for m in ('Deepfakes', 'Face2Face', 'FaceSwap'))
        rows.append(f"| `{name}` | `{s['recipe']}` | **{fmt(s['auc'])}** | {fmt(s['log_loss'])} | {methods} | {extra} | "
                    f"{s['minutes']} min |")
    return '\n'.join(rows)


def pooled_scores(run):
    "The xdev scores of `run` (its bench/results/quality/<run>.ood.csv), one row a video, keyed by part and name."
    scores = pd.read_csv(RESULTS / f'{run}.ood.csv', dtype={'name': str})
    scores['part'] = scores.folder.map(part_of)
    return scores[scores.part.notna()].set_index(['part', 'name'])


def paired(new, old, n=2000, seed=0):
    """Run `new` against run `old` on every xdev video both scored, pooled over the parts: each one's AUC, and the
    difference new - old with a 95% interval from a paired bootstrap over source clips (one draw of clips scores both
    runs). Rule 3 of issue 37: a recommendation changes only when that interval lies above 0."""
    a, b = pooled_scores(new), pooled_scores(old)
    both = a.join(b[['fake_probability']].rename(columns={'fake_probability': 'fake_probability_old'}), how='inner')
    y = (both.label == 'FAKE').astype(int).to_numpy()
    p_new, p_old = both.fake_probability.to_numpy(), both.fake_probability_old.to_numpy()
    groups = np.array([f'{part}/{source_group(name)}' for part, name in both.index])
    _, index = np.unique(groups, return_inverse=True)
    members = [np.flatnonzero(index == k) for k in range(index.max() + 1)]
    rng, diffs = np.random.default_rng(seed), []
    for _ in range(n):
        take = np.concatenate([members[k] for k in rng.integers(len(members), size=len(members))])
        diff = auc(y[take], p_new[take]) - auc(y[take], p_old[take])
        if not math.isnan(diff):
            diffs.append(diff)
    low, high = np.percentile(diffs, [2.5, 97.5])
    reals = y == 0
    return dict(new=new, old=old, videos=len(y), reals=int(reals.sum()), groups=len(members),
                auc_new=auc(y, p_new), auc_old=auc(y, p_old), difference=dict(value=auc(y, p_new) - auc(y, p_old),
                                                                               low=float(low), high=float(high)),
                real_called_fake_new=called_fake(p_new[reals]), real_called_fake_old=called_fake(p_old[reals]),
                ahead=bool(low > 0))


def paired_line(s):
    d = s['difference']
    return (f"pooled xdev, {s['videos']} videos ({s['reals']} real) in {s['groups']} source clips: {s['new']} "
            f"{s['auc_new']:.3f} against {s['old']} {s['auc_old']:.3f}, difference {d['value']:+.3f} "
            f"[{d['low']:+.3f}, {d['high']:+.3f}] (paired bootstrap over source clips): "
            + ('ahead' if s['ahead'] else 'not established') + f"; reals called FAKE at 0.5 {s['real_called_fake_new']:.0%} "
            f"against {s['real_called_fake_old']:.0%}")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('cv', nargs='?', help='a crossval folder (crossval.json, ood.csv)')
    p.add_argument('--name', help='the run name of the results file (default: the folder name)')
    p.add_argument('--table', action='store_true', help="print BENCHMARKS.md's tables of every run")
    p.add_argument('--again', action='store_true',
                   help="the cross-validations' figures again from their kept scores (bench/results/quality)")
    p.add_argument('--paired', nargs=2, metavar=('NEW', 'OLD'),
                   help='two runs of bench/results/quality on the pooled xdev videos, with a paired bootstrap')
    args = p.parse_args(argv)
    if args.paired:
        s = paired(*args.paired)
        (RESULTS / 'paired').mkdir(exist_ok=True)
        write_atomic(RESULTS / 'paired' / f'{args.paired[0]}_vs_{args.paired[1]}.json', json.dumps(s, indent=1))
        print(paired_line(s))
        return 0
    if args.table:
        print(table(), ffpp_table(), users_table(), sep='\n\n')
        return 0
    if args.again:
        for path in sorted(RESULTS.glob('*.ood.csv')):
            name = path.name[:-len('.ood.csv')]
            if (RESULTS / f'{name}.json').exists():  # a cross-validation's copies (not an arm's scores alone)
                s = summarize(RESULTS, name)
            elif (RESULTS / f'{name}.xdev.json').exists():  # an arm of bench/levers.py: its parts from its scores
                s = json.loads((RESULTS / f'{name}.xdev.json').read_text())
                threshold = ((s.get('threshold') or {}).get('by_aggregate') or {}).get('model')
                s.update(parts_of(pd.read_csv(path, dtype={'name': str}), threshold))
            else:
                continue
            write_atomic(RESULTS / f'{name}.xdev.json', json.dumps(s, indent=1))
            print(line(s))
        for path in sorted(RESULTS.glob('*.xdev.json')):  # the arms kept no scores: their one-class intervals dropped
            s = json.loads(path.read_text())
            for v in s['parts'].values():
                if min(v['reals'], v['fakes']) < 2 and v['auc']['low'] == v['auc']['low']:
                    n, what = min((v['reals'], 'real'), (v['fakes'], 'fake'))
                    v['auc'].update(low=math.nan, high=math.nan, no_interval=f'no interval: {n} {what} group')
                    write_atomic(path, json.dumps(s, indent=1))
        return 0
    if not args.cv:
        p.error('give a crossval folder, or --table')
    s = summarize(args.cv)
    s['name'] = args.name or s['name']
    RESULTS.mkdir(parents=True, exist_ok=True)
    write_atomic(RESULTS / f"{s['name']}.xdev.json", json.dumps(s, indent=1))
    print(line(s))
    return 0


if __name__ == '__main__':
    sys.exit(main())

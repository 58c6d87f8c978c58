#!/usr/bin/env bash
# Quality you can trust: every recipe file's group 5-fold cross-validation on all 94 shared FaceForensics++ c23
# videos (each video scored once, by the model that never saw its people; 95% bootstrap intervals over groups), per
# manipulation method, plus two out-of-domain checks scored by the 5 fold models together: the DFDC sample, and 42 real
# talking-head clips (real_extra: how many are called FAKE). Prints one summary line per recipe; fails only on a crash.
#
#   bench/quality.sh [OUT]                                (default bench/out/quality; everything there resumes)
#   RECIPES="recipes/ffpp_sbi.yaml" bench/quality.sh      only these recipes (with ffpp_sbi: its real_extra arm too)
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-../shared/data}
OUT=${1:-bench/out/quality}
BIN=.venv/bin
RECIPES=${RECIPES:-$(ls recipes/ffpp_*.yaml)}

for d in ffpp_c23 dfdc_sample real_extra; do
  if [ ! -d "$DATA/$d" ]; then echo "quality: $DATA/$d is absent, nothing to measure"; exit 0; fi
done
mkdir -p "$OUT"
$BIN/deepfake preprocess "$DATA/ffpp_c23" --out "$OUT/faces" --frames 32 > "$OUT/preprocess.log"
$BIN/deepfake preprocess "$DATA/dfdc_sample" --out "$OUT/faces_dfdc" --frames 32 >> "$OUT/preprocess.log"
$BIN/deepfake preprocess "$DATA/real_extra" --out "$OUT/faces_real_extra" --frames 32 >> "$OUT/preprocess.log"
$BIN/deepfake split "$OUT/faces" --folds 5 --seed 0   # groups of people whole in a fold
$BIN/deepfake weights install > /dev/null

# crossval NAME RECIPE [FLAGS...]: one arm's k-fold run, its figures of record copied to bench/results/quality
crossval() {
  local name=$1 recipe=$2; shift 2
  $BIN/deepfake crossval -c "$recipe" --root_dir "$OUT/faces" --save_model_path "$OUT/cv" --exp_name "$name" \
    --log_interval 0 --out_of_domain "$OUT/faces_dfdc" "$OUT/faces_real_extra" "$@" > "$OUT/cv_$name.log" 2>&1
  # the figures of record, small enough to commit: nbs/02e_crossval.ipynb draws their ROC curves
  mkdir -p bench/results/quality
  cp "$OUT/cv/$name/crossval.json" "bench/results/quality/$name.json"
  cp "$OUT/cv/$name/oof.csv" "bench/results/quality/$name.oof.csv"
  $BIN/python - "$OUT/cv/$name/crossval.json" "$name" <<'EOF'
import json, sys
s, name = json.load(open(sys.argv[1])), sys.argv[2]
ci = lambda m: f"{m['value']:.3f} [{m['low']:.3f}, {m['high']:.3f}]"
dfdc, extra = (s['out_of_domain'][k] for k in sorted(s['out_of_domain']))
extra = ('trained on' if extra.get('trained_on') else
         f"called FAKE {extra.get('called_fake', float('nan')):.0%} of {extra['videos']}")
print(f"quality: {name}: {s['folds']}-fold out-of-fold video AUC {ci(s['auc'])}, log loss {ci(s['log_loss'])} on "
      f"{s['videos']} FF++ c23 videos ({s['minutes']} min); " + ', '.join(f'{m} {ci(v)}' for m, v in s['by_method'].items())
      + f"; DFDC sample AUC {dfdc.get('auc', float('nan')):.3f} ({dfdc['videos']} videos); real_extra {extra} "
      "(target: AUC >= 0.90)")
EOF
}

for recipe in $RECIPES; do
  crossval "$(basename "$recipe" .yaml)" "$recipe"
done
# the real-only recipe with more real people: real_extra's 42 talking-head clips join every fold's training side
# (so they are no longer out of domain for it)
if [[ " $RECIPES " == *" recipes/ffpp_sbi.yaml "* ]]; then
  crossval ffpp_sbi_real_extra recipes/ffpp_sbi.yaml --extra_real "$OUT/faces_real_extra"
fi

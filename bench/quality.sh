#!/usr/bin/env bash
# Quality you can trust: every recipe file's group 5-fold cross-validation on all 94 shared FaceForensics++ c23
# videos (each video scored once, by the model that never saw its people; 95% bootstrap intervals over groups), per
# manipulation method, and the cross-dataset figures (DeepfakeBench's protocol): the 5 fold models together score
# every part of ../shared/data/xdev (bench/xdev.py: per part AUC with intervals over source clips, reals and fakes
# called FAKE, per generator, the mean over parts), the DFDC sample, and 42 real talking-head clips (real_extra).
# Prints one summary line per recipe and its cross-dataset line; fails only on a crash.
#
#   bench/quality.sh [OUT]                                (default bench/out/quality; everything there resumes)
#   RECIPES="recipes/ffpp_sbi.yaml" bench/quality.sh      only these recipes (with ffpp_sbi: its real_extra arm too)
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-../shared/data}
OUT=${1:-bench/out/quality}
BIN=.venv/bin
RECIPES=${RECIPES:-$(ls recipes/ffpp_*.yaml)}
XDEV="celebdf dfdc lipsync talking_heads faceswap_tools"

for d in ffpp_c23 dfdc_sample real_extra xdev; do
  if [ ! -d "$DATA/$d" ]; then echo "quality: $DATA/$d is absent, nothing to measure"; exit 0; fi
done
mkdir -p "$OUT"
$BIN/deepfake preprocess "$DATA/ffpp_c23" --out "$OUT/faces" --frames 32 > "$OUT/preprocess.log"
$BIN/deepfake preprocess "$DATA/dfdc_sample" --out "$OUT/faces_dfdc" --frames 32 >> "$OUT/preprocess.log"
$BIN/deepfake preprocess "$DATA/real_extra" --out "$OUT/faces_real_extra" --frames 32 >> "$OUT/preprocess.log"
OOD="$OUT/faces_dfdc $OUT/faces_real_extra"
for part in $XDEV; do  # each part a faces folder of its own: its figures stay apart
  $BIN/deepfake preprocess "$DATA/xdev/$part" --out "$OUT/xdev_$part" --frames 32 >> "$OUT/preprocess.log"
  OOD="$OOD $OUT/xdev_$part"
done
if [ ! -f "$OUT/faces/videos_df.csv" ]; then
  $BIN/deepfake split "$OUT/faces" --folds 5 --seed 0   # groups of people whole in a fold
fi
$BIN/deepfake weights install > /dev/null

# crossval NAME RECIPE [FLAGS...]: one arm's k-fold run (continued where a stopped one was), its figures of record
# copied to bench/results/quality
crossval() {
  local name=$1 recipe=$2; shift 2
  # shellcheck disable=SC2086  # OOD is a list of folders
  $BIN/deepfake crossval -c "$recipe" --root_dir "$OUT/faces" --save_model_path "$OUT/cv" --exp_name "$name" \
    --log_interval 0 --resume --out_of_domain $OOD "$@" > "$OUT/cv_$name.log" 2>&1
  # the figures of record, small enough to commit: nbs/02e_crossval.ipynb draws their ROC curves
  mkdir -p bench/results/quality
  for f in crossval.json oof.csv ood.csv; do
    cp "$OUT/cv/$name/$f" "bench/results/quality/$name.${f/crossval./}"
  done
  $BIN/python - "$OUT/cv/$name/crossval.json" "$name" <<'EOF'
import json, sys
s, name = json.load(open(sys.argv[1])), sys.argv[2]
ci = lambda m: f"{m['value']:.3f} [{m['low']:.3f}, {m['high']:.3f}]"
ood = {k.rsplit('/', 1)[-1]: v for k, v in s['out_of_domain'].items()}
extra = ood['faces_real_extra']
extra = ('trained on' if extra.get('trained_on') else f"called FAKE {extra['real_called_fake']:.0%} of {extra['videos']}")
print(f"quality: {name}: {s['folds']}-fold out-of-fold video AUC {ci(s['auc'])}, log loss {ci(s['log_loss'])} on "
      f"{s['videos']} FF++ c23 videos ({s['minutes']} min); " + ', '.join(f'{m} {ci(v)}' for m, v in s['by_method'].items())
      + f"; DFDC sample AUC {ood['faces_dfdc']['auc']['value']:.3f} ({ood['faces_dfdc']['videos']} videos); real_extra "
      f"{extra} (target: AUC >= 0.90)")
EOF
  $BIN/python bench/xdev.py "$OUT/cv/$name" --name "$name"
}

for recipe in $RECIPES; do
  crossval "$(basename "$recipe" .yaml)" "$recipe"
done
# the real-only recipe with more real people: real_extra's 42 talking-head clips join every fold's training side
# (so they are no longer out of domain for it)
if [[ " $RECIPES " == *" recipes/ffpp_sbi.yaml "* ]]; then
  crossval ffpp_sbi_real_extra recipes/ffpp_sbi.yaml --extra_real "$OUT/faces_real_extra"
fi

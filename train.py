"""Train a deepfake detector: `python train.py --root_dir FACES --model_name resnet18 --epochs 10`.

Also runs under `torchrun --nproc_per_node N train.py ...` (distributed data parallel).
"""
import sys

from args import parse_args
from deepfake.cli import guarded, run_train


def main(argv=None):
    "Train; returns the exit code (2 with one line on stderr for input the user can mend)."
    return guarded('train.py', run_train, parse_args(argv))


if __name__ == '__main__':
    sys.exit(main())

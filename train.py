"""Train a deepfake detector: `python train.py --root_dir FACES --model_name resnet18 --epochs 10`.

Also runs under `torchrun --nproc_per_node N train.py ...` (distributed data parallel).
"""
from args import parse_args
from trainer import train


def main(argv=None):
    learn = train(parse_args(argv))
    print(f'checkpoints and metrics.csv in {learn.exp_dir}')


if __name__ == '__main__':
    main()

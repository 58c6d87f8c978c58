"""Experiment arguments (thin entry point): the parser lives in deepfake.args (nbs/02a_args.ipynb)."""
from deepfake.args import get_args_parser, parse_args

__all__ = ['get_args_parser', 'parse_args']

if __name__ == '__main__':
    print(vars(parse_args()))

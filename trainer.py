"""The trainer (thin entry point): the code lives in deepfake.trainer (nbs/02d_train.ipynb)."""
from deepfake.checkpoints import load_model
from deepfake.trainer import train

__all__ = ['train', 'load_model']

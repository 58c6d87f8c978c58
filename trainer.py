"""The trainer (thin entry point): the code lives in deepfake.trainer (nbs/02_train.ipynb)."""
from deepfake.trainer import load_model, train

__all__ = ['train', 'load_model']

"Deepfake video detection: from raw DFDC/FaceForensics++ videos to a trained, served model."
import warnings
from importlib.metadata import PackageNotFoundError, version

# fastai's layers call torch.jit.script at import time, which torch 2.14 flags on every run.
warnings.filterwarnings('ignore', message='`torch.jit.script` is deprecated', category=FutureWarning)

try:
    __version__ = version('deepfake')  # settings.ini is the one place the version is written
except PackageNotFoundError:
    __version__ = 'unknown'

"Deepfake video detection: from raw DFDC/FaceForensics++ videos to a trained, served model."
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version('deepfake')  # settings.ini is the one place the version is written
except PackageNotFoundError:
    __version__ = 'unknown'

"Deepfake video detection: from raw DFDC/FaceForensics++ videos to a trained, served model."
import importlib
import sys
import types
import warnings
from importlib.metadata import PackageNotFoundError, version

# fastai's layers call torch.jit.script at import time, which torch 2.14 flags on every run.
warnings.filterwarnings('ignore', message='`torch.jit.script` is deprecated', category=FutureWarning)

try:
    __version__ = version('deepfake')  # settings.ini is the one place the version is written
except PackageNotFoundError:
    __version__ = 'unknown'


def _version_of(package):
    try:
        return version(package).split('+')[0]  # 0.29.1+cpu is 0.29.1
    except PackageNotFoundError:
        return None


def import_torchvision():
    """Import torchvision, when it is not yet, without importing `torch._dynamo` (torch.compile's tracer). The
    library's modules that import torchvision or facenet-pytorch (which imports it) call this first.

    torchvision 0.29's `ops.roi_align` imports `is_compile_supported` from `torch._dynamo.utils` when torchvision is
    imported, and that pulls in all of `torch._dynamo` with sympy and triton: 1.2 s of a cold `deepfake predict` of
    5.7-6.1 s (2026-12-07), for a function that roi_align calls only on its fallback path, which this library never
    takes. While torchvision imports, a stand-in module answers for `torch._dynamo.utils`, its `is_compile_supported`
    importing the real one at its first call; the stand-in is gone from `sys.modules` as soon as torchvision is
    imported, so a later `import torch._dynamo` (torch.compile, timm's models) gets the real modules."""
    if 'torchvision' in sys.modules or 'torch._dynamo' in sys.modules:
        return
    if _version_of('torchvision') != '0.29.1':  # the one whose imports were read: any other imports as it is
        importlib.import_module('torchvision')
        return
    importlib.import_module('torch')  # first: the stand-in covers torchvision's own import only

    def is_compile_supported(device_type):
        from torch._dynamo.utils import is_compile_supported
        return is_compile_supported(device_type)

    stand_in = types.ModuleType('torch._dynamo.utils', 'Stands in for torch._dynamo.utils while torchvision imports.')
    stand_in.is_compile_supported = is_compile_supported
    sys.modules['torch._dynamo.utils'] = stand_in
    try:
        importlib.import_module('torchvision')
    finally:
        if sys.modules.get('torch._dynamo.utils') is stand_in:
            del sys.modules['torch._dynamo.utils']


def import_timm():
    """timm, imported when it is not yet without importing `torch._dynamo`: the library's functions that build timm
    models call this instead of `import timm`.

    `import timm` imports every model definition, and timm 1.0.31's `models/naflexvit.py` decorates four methods with
    `torch.compiler.disable`, which imports `torch._dynamo` (with sympy) when it decorates: 1.1 s of the 1.5 s timm
    took to import beside torch and torchvision (2026-12-07), in every cold `deepfake predict` of a timm model (the
    recipes' `efficientnet_lite0`), for methods of a model the library never builds. While timm imports,
    `torch.compiler.disable` is a stand-in that decorates lazily: the function it returns applies the real
    `torch.compiler.disable` at its first call and calls the result, so a naflexvit model still runs, and compiles,
    as before; the real `torch.compiler.disable` is back as soon as timm is imported."""
    if 'timm' in sys.modules or 'torch._dynamo' in sys.modules or _version_of('timm') != '1.0.31':
        return importlib.import_module('timm')  # imported, dynamo there already, or a timm whose imports were not read
    import_torchvision()
    import functools
    import torch
    real = torch.compiler.disable

    def lazy_disable(fn=None, recursive=True, *, reason=None):
        if fn is None:  # used as @disable(recursive=...)
            return functools.partial(lazy_disable, recursive=recursive, reason=reason)
        disabled = []

        @functools.wraps(fn)
        def call(*args, **kwargs):
            if not disabled:
                disabled.append(real(fn, recursive, reason=reason))
            return disabled[0](*args, **kwargs)
        return call

    torch.compiler.disable = lazy_disable
    try:
        return importlib.import_module('timm')
    finally:
        torch.compiler.disable = real

"""Packaging, driven by settings.ini (the nbdev convention): one place for name, version, requirements."""
from configparser import ConfigParser

from setuptools import find_packages, setup

cfg = ConfigParser()
cfg.read('settings.ini')
s = cfg['DEFAULT']

setup(
    name=s['lib_name'],
    version=s['version'],
    description=s['description'],
    keywords=s['keywords'],
    python_requires=f">={s['min_python']}",
    packages=find_packages(include=[s['lib_path'], f"{s['lib_path']}.*"]),
    install_requires=s['requirements'].split(),
    extras_require={'train': s['train_requirements'].split(), 'dev': s['dev_requirements'].split()},
    entry_points={'console_scripts': s['console_scripts'].split()},
)

"""Training throughput: ResNet18+LSTM on 16-frame clips, in clips/s, three ways side by side in one run.

    python bench/train.py [--device auto|cpu|cuda] [--sizes 112 224] [--batch_size 8] [--batches 6] [--videos 8]

(a) the model alone: training steps on random clips already on the device, the ceiling. Measured plain (fp32,
    NCHW, as the seed ran it) and with what the device allows: channels-last, mixed precision (bf16 autocast on a
    CPU, fp16 on CUDA), both.
(b) the library: `deepfake.trainer.train` (fastai Learner) on packed clips of real FF++ faces written by
    `deepfake preprocess`: uint8 clips from VideoDataset, augmented and normalized in batches (`BatchTransform`: on a
    GPU there, on a CPU augmented in the loader's workers as they collate), with the trainer flags (`--channels_last`, `--amp`) of the fastest (a); and the share of its
    time the training loop waited for the next batch.
(c) the seed's way, re-implemented here: one PIL JPEG per frame read from the face folders, per-frame torchvision
    transforms, the CNN called once per time step, a plain PyTorch loop.
The loader alone, no model: clips/s of the library's uint8 loader (as a GPU run gets it; and as a CPU run does, each
batch augmented in the workers), and of the design it replaced (every item augmented, turned to float32 and
normalized in the workers, as deepfake 0.1 did), with the same workers.
Every column uses the same model settings, once with the backbone frozen (as the seed trained it) and once
fine-tuned. Clips/s counts training batches after two warm-up batches, data loading included for (b) and (c).
Prints one summary line at the end; fails only on a crash.
"""
import argparse
import tempfile
import time
from contextlib import nullcontext
from pathlib import Path

import pandas as pd
import torch
import torch.nn.functional as F
from fastai.callback.core import Callback
from PIL import Image
from torch import nn
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms

from deepfake.args import parse_args
from deepfake.augment import ClipAugment, prepare_clips
from deepfake.callbacks import WorkerBatch
from deepfake.demo_data import make_demo_data
from deepfake.files import write_atomic
from deepfake.models import create_model, pick_device
from deepfake.preprocess import preprocess
from deepfake.sources import read_source
from deepfake.trainer import default_workers, train
from deepfake.video_dataset import VideoDataset

DATA = Path(__file__).resolve().parents[1].parent / 'shared' / 'data'
T, WARMUP = 16, 2
MODES = {'fp32': (False, False), 'channels_last': (True, False), 'amp': (False, True), 'channels_last+amp': (True, True)}


def sync(device):
    if device.type == 'cuda':
        torch.cuda.synchronize()


def step_rate(model, batches, device, channels_last=False, amp=False):
    "Clips/s of optimizer steps of `model` on `device` over the (clips, labels) `batches` after WARMUP ones."
    model = model.to(device)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    model.train()
    dtype = torch.float16 if device.type == 'cuda' else torch.bfloat16
    for i, (x, y) in enumerate(batches):
        if i == WARMUP:
            sync(device)
            start, clips = time.perf_counter(), 0
        x, y = x.to(device), y.to(device)
        with torch.autocast(device.type, dtype=dtype) if amp else nullcontext():
            loss = F.cross_entropy(model(x).float(), y)
        loss.backward()
        opt.step()
        opt.zero_grad()
        clips = clips + len(y) if i >= WARMUP else 0
    sync(device)
    return clips / (time.perf_counter() - start)


def random_batches(n, batch_size, size, device):
    "`n` batches of random clips and labels, made once on the device: the ceiling reads nothing."
    x, y = torch.randn(batch_size, T, 3, size, size, device=device), torch.randint(0, 2, (batch_size,), device=device)
    return [(x, y)] * n


class Throughput(Callback):
    "Clips/s of the training batches after WARMUP ones, as the Learner runs them, and the share spent waiting for data."
    order = -30  # before_batch before BatchTransform: its augmentation counts as work, not as waiting

    def before_epoch(self):
        self.starts, self.times, self.clips = [], [], []

    def before_batch(self):
        if self.training:
            self.starts.append(time.perf_counter())  # the batch has arrived from the loader

    def after_batch(self):
        if self.training:
            sync(next(self.model.parameters()).device)
            self.times.append(time.perf_counter())
            self.clips.append(len(self.yb[0]))

    @property
    def rate(self):
        return sum(self.clips[WARMUP + 1:]) / (self.times[-1] - self.times[WARMUP])

    @property
    def data_wait(self):
        "Share of the timed span the training loop spent waiting for the next batch."
        waits = [start - end for start, end in zip(self.starts[WARMUP + 1:], self.times[WARMUP:])]
        return sum(waits) / (self.times[-1] - self.times[WARMUP])


def library_rate(faces, csv, size, freeze, batch_size, workers, mode, device):
    "(b): one epoch of the library's trainer over `csv`, with the flags of (a)'s `mode`; clips/s of its training batches."
    channels_last, amp = MODES[mode]
    meter = Throughput()
    args = parse_args(['--root_dir', str(faces), '--csv_file', str(csv), '--model_name', 'resnet18',
                       '--input_size', str(size), '--video_len', str(T), '--batch_size', str(batch_size),
                       '--workers', str(workers), '--epochs', '1', '--log_interval', '0', '--device', str(device),
                       '--save_model_path', str(faces / 'checkpoints'), '--exp_name', f'{size}_{freeze}',
                       '--overwrite', '--channels_last' if channels_last else '--no-channels_last',
                       '--amp' if amp else '--no-amp', *(['--freeze_backbone'] if freeze else [])])
    train(args, cbs=[meter])
    return meter.rate, meter.data_wait


class FloatItems(Dataset):
    "The design the uint8 loader replaced: every item augmented, turned to float32 and normalized in the worker."
    def __init__(self, dataset, size):
        self.dataset, self.size, self.augment = dataset, size, ClipAugment(size)

    def __len__(self):
        return len(self.dataset)

    def __getitem__(self, i):
        clip, _, label = self.dataset[i]
        return prepare_clips(self.augment(clip[None]), self.size, (0.485, 0.456, 0.406), (0.229, 0.224, 0.225))[0], label


def loader_rate(faces, csv, size, batch_size, workers, n, items='uint8'):
    """Clips/s of the loader alone over `n` batches after WARMUP ones: the library's uint8 items as a GPU gets them
    ('uint8'), as a CPU run gets them, augmented in the workers by `WorkerBatch` ('uint8 augmented'), or `FloatItems`."""
    n = max(n, 30)  # a loader runs far faster than a model: more batches for a stable figure
    dataset = VideoDataset(faces, csv, split='train', video_len=T)
    dataset = FloatItems(dataset, size) if items == 'float' else dataset
    collate = WorkerBatch(ClipAugment(size)) if items == 'uint8 augmented' else None
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=True, num_workers=workers, drop_last=True,
                        collate_fn=collate)
    for i, batch in enumerate(loader):
        if i == WARMUP:
            start, clips = time.perf_counter(), 0
        clips = clips + len(batch[-1]) if i >= WARMUP else 0
        if i + 1 == n:
            break
    return clips / (time.perf_counter() - start)


class LoopedOverTime(nn.Module):
    "The seed's forward pass: the CNN called once per time step, then the LSTM; same layers as the library's model."
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, x):
        m = self.model
        with torch.no_grad() if m.frozen else nullcontext():
            features = torch.stack([m.backbone(x[:, t]) for t in range(x.shape[1])], 1)
        output, _ = m.rnn(m.embed(features))
        return m.head(m.drop(output[:, -1]))

    def train(self, mode=True):
        self.model.train(mode)  # keeps a frozen body in eval mode, as in the library
        return self


class FrameFolders(Dataset):
    "The seed's dataset: a folder of face JPEGs per video, T of them opened with PIL and transformed one by one."
    def __init__(self, faces, videos, size):
        self.folders = [faces / 'crops' / name for name in videos.name]
        self.labels = (videos.label == 'FAKE').astype(int).tolist()
        self.transform = transforms.Compose([transforms.Resize((size, size)), transforms.ToTensor(),
                                             transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])

    def __len__(self):
        return len(self.folders)

    def __getitem__(self, i):
        files = sorted(self.folders[i].glob('*.jpg'))
        picks = [files[round(k * (len(files) - 1) / (T - 1))] for k in range(T)]
        return torch.stack([self.transform(Image.open(f).convert('RGB')) for f in picks]), self.labels[i]


def seed_rate(faces, videos, size, freeze, batch_size, workers, device):
    "(c): the seed's loader and looped model in a plain loop; clips/s after WARMUP batches."
    loader = DataLoader(FrameFolders(faces, videos, size), batch_size=batch_size, shuffle=True,
                        num_workers=workers, drop_last=True)
    model = LoopedOverTime(create_model('resnet18', freeze_backbone=freeze))
    return step_rate(model, loader, device)


def real_faces(out, videos):
    "Packed 16-frame clips and face JPEGs of `videos` FF++ videos (the demo videos when FF++ is absent)."
    if (DATA / 'ffpp_c23').is_dir():
        table = read_source(DATA / 'ffpp_c23').sample(videos, random_state=0)
    else:
        print(f'{DATA / "ffpp_c23"} absent: using the synthetic demo videos')
        table = read_source(make_demo_data(out / 'videos'))
    index = preprocess(table, out, frames=T, face_size=224, progress=False)
    return index[index.status == 'ok']


def training_table(ok, n_train):
    "A split table that lists the preprocessed videos over and over, up to `n_train` training rows, plus a real and a fake to validate."
    train_rows = ok.sample(n_train, replace=True, random_state=0).assign(is_valid=False)
    valid = ok.groupby('label').head(1).assign(is_valid=True)  # one of each class: the trainer needs both
    return pd.concat([train_rows, valid])[['name', 'label', 'is_valid']]


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--sizes', type=int, nargs='+', default=[112, 224])
    p.add_argument('--batch_size', type=int, default=8)
    p.add_argument('--batches', type=int, default=6, help='timed batches per measure, after 2 warm-up ones')
    p.add_argument('--videos', type=int, default=8, help='FF++ videos preprocessed for (b) and (c)')
    p.add_argument('--workers', type=int, default=default_workers())
    p.add_argument('--device', default='auto', help='auto, cpu or cuda')
    args = p.parse_args()
    n, device = args.batches + WARMUP, pick_device(args.device)
    print(f'ResNet18+LSTM, {T} frames, batch {args.batch_size}, {args.batches} timed batches, {device}, '
          f'{torch.get_num_threads()} torch threads, {args.workers} loader workers')
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        faces = Path(tmp)
        ok = real_faces(faces, args.videos)
        table = training_table(ok, n * args.batch_size)
        write_atomic(faces / 'bench.csv', table.to_csv(index=False))
        loader_table = training_table(ok, max(n, 30) * args.batch_size)  # a loader is fast
        write_atomic(faces / 'loader.csv', loader_table.to_csv(index=False))
        for size in args.sizes:
            for freeze in (True, False):
                row = dict(size=size, backbone='frozen' if freeze else 'fine-tuned')
                for mode, (channels_last, amp) in MODES.items():
                    torch.manual_seed(0)
                    model = create_model('resnet18', freeze_backbone=freeze)
                    row[f'a_{mode}'] = step_rate(model, random_batches(n, args.batch_size, size, device), device,
                                                 channels_last, amp)
                row['mode'] = max(MODES, key=lambda m: row[f'a_{m}'])  # (b) runs with the trainer flags of (a)'s best
                row['b_library'], row['b_data_wait'] = library_rate(faces, faces / 'bench.csv', size, freeze,
                                                                    args.batch_size, args.workers, row['mode'], device)
                row['c_seed'] = seed_rate(faces, table[~table.is_valid], size, freeze, args.batch_size, args.workers,
                                          device)
                if freeze:  # the loader does not depend on the model
                    for items in ('uint8', 'uint8 augmented', 'float'):
                        row[f'loader_{items.replace(" ", "_")}'] = loader_rate(faces, 'loader.csv', size,
                                                                               args.batch_size, args.workers, n, items)
                rows.append(row)
                print(pd.DataFrame([row]).round(2).to_string(index=False), flush=True)
    df = pd.DataFrame(rows)
    df = df.assign(a_best=df[[f'a_{m}' for m in MODES]].max(axis=1))
    df = df.assign(b_over_a=df.b_library / df.a_best, b_over_c=df.b_library / df.c_seed)
    print(df.round(2).to_markdown(index=False))
    print('train: ' + '; '.join(
        f'{r.size}px {r.backbone}: (a) {r.a_fp32:.1f} fp32, {r.a_best:.1f} {r.mode}; (b) {r.b_library:.1f}; '
        f'(c) {r.c_seed:.1f} clips/s; (b)/(a best) {r.b_over_a:.2f} ({r.b_data_wait:.0%} waiting for data), '
        f'(b)/(c) {r.b_over_c:.2f}' + (f'; loader alone {r.loader_uint8:.0f} uint8 ({r.loader_uint8_augmented:.0f} augmented in the workers, as '
                                       f'on a CPU) vs {r.loader_float:.0f} float clips/s'
                                       if r.backbone == 'frozen' else '')
        for r in df.itertuples()) + ' (targets: CPU (b) >= 0.9 x (a); GPU (b) >= 0.8 x (a) and >= 3 x (c))')


if __name__ == '__main__':
    main()

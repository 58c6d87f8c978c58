"Tests of deepfake.models: every registered model on tiny random clips, the registry, freezing, weight files, offline errors."
import socket

import huggingface_hub
import pytest
import timm
import torch
import torchvision
from torch import nn

import deepfake.models as models
from deepfake.models import (CNNRNN, FrameClassifier, create_model, list_models, register_model, timm_checkpoint,
                             torchvision_weights)

B, T = 2, 4
SMALL = dict(hidden_size=32, embed_dim=32)  # RNN sizes that keep the CNN+RNN models quick
BIG = {'resnet101', 'resnet152', 'frame_resnet101', 'frame_resnet152', 'xception', 'efficientnet_b5', 'efficientnet_b6',
       'efficientnet_b7'}  # tested on two frames per video


def clip(model, frames=T, size=64):
    "A random B×frames clip batch of `size` pixels, or of the model's minimum size when larger."
    side = max(size, model.min_size)
    return torch.randn(B, frames, 3, side, side)


@pytest.mark.parametrize('name', list_models())
def test_forward_backward(name):
    "Video and frame logits of the right shapes, finite, and finite gradients for every trainable parameter."
    torch.manual_seed(0)
    model = create_model(name, **SMALL).train()
    t = 2 if name in BIG else T
    x = clip(model, frames=t)
    frames, video = model.frame_logits(x), model(x)
    assert frames.shape == (B, t, 2) and video.shape == (B, 2)
    assert torch.isfinite(frames).all() and torch.isfinite(video).all()
    nn.functional.cross_entropy(video, torch.tensor([0, 1])).backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert grads and all(g is not None and torch.isfinite(g).all() for g in grads)


@pytest.mark.parametrize('name', ['resnet18', 'frame_resnet18', 'mobilenet_v2', 'efficientnet_lite0', 'facenet_lstm'])
def test_one_sigmoid_logit(name):
    model = create_model(name, num_classes=1, **SMALL)
    x = clip(model, frames=2)
    assert model(x).shape == (B, 1) and model.frame_logits(x).shape == (B, 2, 1)


def test_video_logit_from_frame_logits():
    "Frame models average their frame logits; CNN+RNN models score the last step."
    x = torch.randn(B, T, 3, 64, 64)
    with torch.no_grad():
        frames = create_model('mobilenet_v2').eval()
        torch.testing.assert_close(frames(x), frames.frame_logits(x).mean(1))
        rnn = create_model('resnet18', **SMALL).eval()
        torch.testing.assert_close(rnn(x), rnn.frame_logits(x)[:, -1])


def test_list_models():
    names = list_models()
    assert len(names) == len(set(names)) == 23
    assert names[:5] == ['efficientnet_b0', 'efficientnet_b1', 'efficientnet_b2', 'efficientnet_b3', 'efficientnet_b4']
    assert list_models('resnet*') == ['resnet18', 'resnet34', 'resnet50', 'resnet101', 'resnet152']
    assert {'xception', 'efficientnet_lite0', 'mobilenet_v2', 'frame_resnet152', 'facenet_lstm'} <= set(names)


def test_register_and_duplicates(monkeypatch):
    monkeypatch.setattr(models, '_MODELS', dict(models._MODELS))

    @register_model
    def tiny(num_classes=2):
        return FrameClassifier(nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, num_classes)))

    register_model('tiny_too')(tiny)
    assert {'tiny', 'tiny_too'} <= set(list_models('tiny*'))
    assert create_model('tiny', hidden_size=8)(torch.randn(B, T, 3, 8, 8)).shape == (B, 2)
    with pytest.raises(ValueError, match="'tiny' is already registered"):
        register_model(tiny)
    with pytest.raises(ValueError, match="'resnet18' is already registered"):
        register_model('resnet18')(tiny)


def test_unknown_name_lists_close_matches():
    with pytest.raises(ValueError, match='close matches: resnet18') as e:
        create_model('resnet_18')
    assert 'list_models()' in str(e.value)
    with pytest.raises(ValueError, match="unknown model 'zzz'"):
        create_model('zzz')


def test_trainer_arguments():
    "RNN arguments are dropped for frame models; a misspelt argument is not."
    model = create_model('mobilenet_v2', embed_dim=64, hidden_size=8, rnn='gru', num_layers=3, bidirectional=True,
                         dropout=0.1, freeze_backbone=False, weights=None, pretrained=False, num_classes=2)
    assert model.backbone.classifier[0].p == 0.1
    with pytest.raises(TypeError, match='hiden_size'):
        create_model('resnet18', hiden_size=8)


def test_rnn_options():
    model = create_model('resnet18', rnn='gru', embed_dim=16, hidden_size=8, num_layers=2, bidirectional=True)
    assert isinstance(model.rnn, nn.GRU) and model.rnn.num_layers == 2 and model.head.in_features == 16
    x = clip(model, frames=3)
    assert model(x).shape == (B, 2) and model.frame_logits(x).shape == (B, 3, 2)
    assert isinstance(create_model('resnet18').rnn, nn.LSTM)
    with pytest.raises(ValueError, match='rnn='):
        create_model('resnet18', rnn='transformer')


def test_normalization():
    assert create_model('efficientnet_lite0').mean == (0.5, 0.5, 0.5) == create_model('xception').std
    assert create_model('resnet18').mean == (0.485, 0.456, 0.406) and create_model('efficientnet_b0').std == (0.229, 0.224, 0.225)


def running_stats(model):
    return {k: v.clone() for k, v in model.backbone.state_dict().items() if 'running' in k}


@pytest.mark.parametrize('name', ['resnet18', 'mobilenet_v2', 'efficientnet_b0', 'facenet_lstm'])
def test_freeze_backbone(name):
    "Frozen: no gradient reaches the backbone's body and a train-mode forward leaves its BatchNorm statistics alone."
    model = create_model(name, freeze_backbone=True, **SMALL).train()
    before = running_stats(model)
    model(clip(model, frames=2)).sum().backward()
    body = [p for m in model.body() for p in m.parameters()]
    rest = [p for p in model.parameters() if all(p is not q for q in body)]
    assert body and rest and all(not p.requires_grad and p.grad is None for p in body)
    assert all(p.requires_grad and p.grad is not None for p in rest)
    assert before and all(torch.equal(v, running_stats(model)[k]) for k, v in before.items())
    assert not any(m.training for part in model.body() for m in part.modules())


def test_default_fine_tunes_everything():
    model = create_model('resnet18', **SMALL).train()
    before = running_stats(model)
    model(clip(model, frames=2)).sum().backward()
    assert all(p.requires_grad and p.grad is not None for p in model.parameters())
    assert not torch.equal(before['bn1.running_mean'], model.backbone.bn1.running_mean)


@pytest.mark.parametrize('name', ['resnet18', 'mobilenet_v2'])
def test_cnn_runs_once_per_batch(name):
    "All B×T frames go through the CNN in one call, for the video and the frame logits alike."
    model = create_model(name, **SMALL)
    calls = []
    model.backbone.register_forward_hook(lambda module, args, output: calls.append(args[0].shape[0]))
    x = clip(model)
    model(x), model.frame_logits(x)
    assert calls == [B * T, B * T]


def test_weights_file_round_trip(tmp_path):
    "A model's backbone saved to a file starts an identical model."
    trained = create_model('efficientnet_lite0').eval()
    torch.save(trained.backbone.state_dict(), tmp_path / 'lite0.pth')
    loaded = create_model('efficientnet_lite0', weights=tmp_path / 'lite0.pth').eval()
    x = clip(loaded, frames=2).flatten(0, 1)
    with torch.no_grad():  # the features: the 2-class head is new in both (zero), the body came from the file
        torch.testing.assert_close(loaded.backbone.forward_features(x), trained.backbone.forward_features(x))


@pytest.mark.parametrize('name', ['efficientnet_lite0', 'mobilenet_v2'])
def test_new_frame_head_starts_at_even_odds(name):
    "A frame model's new 2-class head is zero: P(FAKE) = 0.5 and the loss log 2 at the start of fine-tuning."
    model = create_model(name, pretrained=False).eval()
    with torch.no_grad():
        assert not model(clip(model, frames=2)).any()


def test_weights_file_with_another_head(tmp_path):
    "An ImageNet backbone file (1000 classes) into 2-class models: the body loads, the head stays fresh."
    resnet = torchvision.models.resnet18()
    torch.save(resnet.state_dict(), tmp_path / 'resnet18.pth')
    for name in ('resnet18', 'frame_resnet18'):
        model = create_model(name, weights=str(tmp_path / 'resnet18.pth'), **SMALL)
        assert torch.equal(model.backbone.layer4[1].conv2.weight, resnet.layer4[1].conv2.weight)
    assert model.backbone.fc.out_features == 2


def test_weights_file_of_another_network(tmp_path):
    torch.save(torchvision.models.resnet18().state_dict(), tmp_path / 'resnet18.pth')
    with pytest.raises(ValueError, match='does not fit the backbone MobileNetV2: .* missing keys'):
        create_model('mobilenet_v2', weights=tmp_path / 'resnet18.pth')


class Payload:
    "Not a tensor: a pickled object that a weights file must not be able to smuggle in."


def test_weights_file_never_unpickles_objects(tmp_path):
    torch.save({'conv1.weight': torch.zeros(1), 'payload': Payload()}, tmp_path / 'evil.pth')
    with pytest.raises(ValueError, match='holds Python objects besides tensors'):
        create_model('resnet18', weights=tmp_path / 'evil.pth')


@pytest.fixture
def torch_home(tmp_path, monkeypatch):
    "An empty TORCH_HOME, so tests neither see nor touch the user's cache of weights."
    monkeypatch.setenv('TORCH_HOME', str(tmp_path))
    return tmp_path


@pytest.fixture
def offline(torch_home, monkeypatch):
    "No network, and an empty Hugging Face cache in offline mode (its retries would take a minute)."
    def no_network(*args, **kwargs):
        raise socket.gaierror('no network in this test')
    monkeypatch.setattr(socket, 'getaddrinfo', no_network)
    monkeypatch.setattr(huggingface_hub.constants, 'HF_HUB_OFFLINE', True)
    monkeypatch.setattr(huggingface_hub.constants, 'HF_HUB_CACHE', str(torch_home / 'hf'))
    return torch_home


@pytest.mark.parametrize('name, folder, file', [
    ('resnet18', 'hub/checkpoints', 'resnet18-f37072fd.pth'),
    ('mobilenet_v2', 'hub/checkpoints', 'mobilenet_v2-7ebf99e0.pth'),
    ('efficientnet_b0', 'hub/checkpoints', 'tf_efficientnet_b0.ns_jft_in1k.pth'),
    ('efficientnet_lite0', 'hub/checkpoints', 'tf_efficientnet_lite0.in1k.pth'),
    ('xception', 'hub/checkpoints', 'legacy_xception.tf_in1k.pth'),
    ('facenet_lstm', 'checkpoints', '20180402-114759-vggface2.pt')])
def test_pretrained_offline_names_the_file(offline, name, folder, file):
    with pytest.raises(FileNotFoundError) as e:
        create_model(name, pretrained=True)
    message = str(e.value)
    assert f'the file {file} in the folder {offline / folder}' in message
    assert ('deepfake weights install' in message) == (name in ('mobilenet_v2', 'efficientnet_lite0'))


def test_pretrained_from_torchvision_cache(torch_home):
    "torchvision's own file name in $TORCH_HOME/hub/checkpoints is what pretrained=True loads; any cached ImageNet version."
    assert torchvision_weights('mobilenet_v2').name == 'IMAGENET1K_V2'
    imagenet = torchvision.models.mobilenet_v2()
    cache = torch_home / 'hub' / 'checkpoints'
    cache.mkdir(parents=True)
    torch.save(imagenet.state_dict(), cache / 'mobilenet_v2-b0353104.pth')
    assert torchvision_weights('mobilenet_v2').name == 'IMAGENET1K_V1'
    model = create_model('mobilenet_v2', pretrained=True)
    assert torch.equal(model.backbone.features[3].conv[0][0].weight, imagenet.features[3].conv[0][0].weight)
    assert model.backbone.classifier[1].out_features == 2


def test_pretrained_from_timm_checkpoint(torch_home):
    "A file at timm_checkpoint(arch) is what pretrained=True loads for timm models; timm swaps in a fresh classifier."
    imagenet = timm.create_model('tf_efficientnet_lite0')
    timm_checkpoint('tf_efficientnet_lite0').parent.mkdir(parents=True)
    torch.save(imagenet.state_dict(), timm_checkpoint('tf_efficientnet_lite0'))
    model = create_model('efficientnet_lite0', pretrained=True, num_classes=1)
    assert torch.equal(model.backbone.conv_head.weight, imagenet.conv_head.weight)
    assert model.backbone.classifier.out_features == 1


def test_any_encoder_and_abstract_base():
    model = CNNRNN(nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, 16)), 16, embed_dim=8, hidden_size=8)
    assert model(torch.randn(B, T, 3, 8, 8)).shape == (B, 2)
    with pytest.raises(NotImplementedError):
        models.VideoClassifier(nn.Identity())(torch.randn(B, T, 3, 8, 8))

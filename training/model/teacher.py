"""The optional convolutional teacher of the dense stage's distillation (stage `teacher`
trains it): its definition and loader. Used only in training: never exported."""

import torch.nn as nn

from training.common import load_ckpt
from training.model.shape import PIX_MEAN, PIX_STD


def conv_bn(cin, cout):
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout),
                         nn.ReLU(inplace=True))


class ConvTeacher(nn.Module):
    """Five 3x3 conv-BN-ReLU layers (32, 32 | pool | 64, 64 | pool | 128), global average
    pool, linear 128 -> 10. About 0.15 M parameters, 14 M MACs per image."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(conv_bn(1, 32), conv_bn(32, 32), nn.MaxPool2d(2),
                                      conv_bn(32, 64), conv_bn(64, 64), nn.MaxPool2d(2),
                                      conv_bn(64, 128))
        self.head = nn.Linear(128, 10)

    def forward(self, x_u8):
        x = (x_u8.float()[:, None] / 255.0 - PIX_MEAN) / PIX_STD
        return self.head(self.features(x).mean((2, 3)))


def load_teacher(path):
    """The trained teacher in eval mode; ValueError naming the file if it is not one."""
    sd = load_ckpt(path, "teacher")["teacher"]
    t = ConvTeacher()
    ref = t.state_dict()
    for k, v in ref.items():
        if k not in sd or tuple(sd[k].shape) != tuple(v.shape):
            raise ValueError(f"{path}: tensor '{k}' missing or of another shape "
                             f"(not a deit-micro teacher checkpoint)")
    t.load_state_dict(sd)
    t.eval()
    for p in t.parameters():
        p.requires_grad_(False)
    return t

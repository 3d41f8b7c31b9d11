"""deit-micro backbone (float): patch embedding, 12 blocks, head. The selectors, the pruned
forward pass and the fake-quantised forms are in pruned.py."""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from training.model.shape import SHAPE, PIX_MEAN, PIX_STD


def patchify(x_u8):
    """uint8/float images [B,28,28] -> normalised patches [B,49,16] (row-major patches,
    row-major pixels inside a patch)."""
    x = x_u8.float() / 255.0
    x = (x - PIX_MEAN) / PIX_STD
    B = x.shape[0]
    x = x.view(B, 7, 4, 7, 4).permute(0, 1, 3, 2, 4).reshape(B, 49, 16)
    return x


class Attention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.hd = dim // heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x, colmask=None, return_attn=False):
        B, N, D = x.shape
        qkv = self.qkv(x).view(B, N, 3, self.heads, self.hd).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        a = (q @ k.transpose(-2, -1)) / math.sqrt(self.hd)
        if colmask is None:
            attn = a.softmax(-1)
        else:
            # colmask [B,N] in {0,1} (possibly straight-through); a token always sees itself
            m = colmask[:, None, None, :]
            eye = torch.eye(N, device=x.device)[None, None]
            m = m + (1 - m) * eye
            a = a - a.max(-1, keepdim=True)[0].detach()
            e = a.exp() * m
            attn = e / e.sum(-1, keepdim=True)
        out = (attn @ v).transpose(1, 2).reshape(B, N, D)
        out = self.proj(out)
        if return_attn:
            return out, attn
        return out


class Mlp(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(x)))


class Block(nn.Module):
    def __init__(self, dim, heads, hidden):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, hidden)

    def forward(self, x, colmask=None, return_attn=False):
        if return_attn:
            y, attn = self.attn(self.norm1(x), colmask, True)
            x = x + y
            return x + self.mlp(self.norm2(x)), attn
        x = x + self.attn(self.norm1(x), colmask)
        return x + self.mlp(self.norm2(x))


class DeitMicro(nn.Module):
    def __init__(self):
        super().__init__()
        s = SHAPE
        D = s["dim"]
        self.patch_embed = nn.Linear(s["patch"] * s["patch"] * s["in_chans"], D)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, D))
        self.pos_embed = nn.Parameter(torch.zeros(1, s["tokens"], D))
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        nn.init.trunc_normal_(self.cls_token, std=0.02)
        self.blocks = nn.ModuleList([Block(D, s["heads"], s["hidden"]) for _ in range(s["depth"])])
        self.norm = nn.LayerNorm(D)
        self.head = nn.Linear(D, s["classes"])
        self.apply(self._init)

    @staticmethod
    def _init(m):
        if isinstance(m, nn.Linear):
            nn.init.trunc_normal_(m.weight, std=0.02)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.LayerNorm):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)

    def embed(self, x_u8):
        p = patchify(x_u8)
        x = self.patch_embed(p)
        cls = self.cls_token.expand(x.shape[0], -1, -1)
        return torch.cat([cls, x], 1) + self.pos_embed

    def forward(self, x_u8):
        x = self.embed(x_u8)
        for blk in self.blocks:
            x = blk(x)
        return self.head(self.norm(x)[:, 0])


def check_backbone_state(sd, path):
    """Raise ValueError naming the file and the first tensor whose shape does not match."""
    ref = DeitMicro().state_dict()
    for k, v in ref.items():
        if k not in sd:
            raise ValueError(f"{path}: checkpoint lacks tensor '{k}' (not a deit-micro checkpoint?)")
        if tuple(sd[k].shape) != tuple(v.shape):
            raise ValueError(f"{path}: tensor '{k}' has shape {list(sd[k].shape)}, "
                             f"deit-micro needs {list(v.shape)}")

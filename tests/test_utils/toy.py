"""A toy model and dataset for Runner-level tests of the compat fixes."""
import torch
import torch.nn as nn
from mmengine.model import BaseModel
from torch.utils.data import Dataset


class ToyModel(BaseModel):

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.linear = nn.Linear(4, 1)

    def forward(self, inputs, data_samples=None, mode='tensor'):
        inputs = torch.stack(inputs) if isinstance(inputs, list) else inputs
        pred = self.linear(inputs).squeeze(-1)
        if mode == 'loss':
            target = torch.stack(data_samples) if isinstance(
                data_samples, list) else data_samples
            return dict(loss=((pred - target)**2).mean())
        return pred


class ToyDataset(Dataset):
    metainfo = dict()

    def __init__(self, num=8):
        gen = torch.Generator().manual_seed(1)
        self.x = torch.randn(num, 4, generator=gen)
        self.y = torch.randn(num, generator=gen)

    def __len__(self):
        return len(self.x)

    def __getitem__(self, idx):
        return dict(inputs=self.x[idx], data_samples=self.y[idx])

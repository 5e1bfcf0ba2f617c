import torch
from torch import nn

D_MODEL = 32
N_LAYERS = 2
layer = nn.TransformerEncoderLayer(d_model=D_MODEL, nhead=4)
model = nn.TransformerEncoder(layer, num_layers=N_LAYERS)
opt = torch.optim.AdamW(model.parameters())
loss = model(torch.randn(5, 2, D_MODEL)).mean()
loss.backward()
opt.step()

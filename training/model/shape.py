"""The fixed shape of deit-micro (the simulator and the C++ functional model rely on it),
the blocks a token selector may sit before, and the input pixel normalisation."""

# Fixed model shape (the simulator relies on it).
SHAPE = dict(img=28, in_chans=1, patch=4, num_patches=49, tokens=50, dim=64,
             depth=12, heads=2, head_dim=32, mlp_ratio=4, hidden=256, classes=10)
CANDIDATE_BLOCKS = list(range(1, 11))  # selector may sit before blocks 1..10

# Normalisation of the input pixels (computed once on the training set).
PIX_MEAN = 0.2860
PIX_STD = 0.3530

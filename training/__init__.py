"""The training side of heatvit: deit-micro, the model trained here, from Fashion-MNIST to
the integer export the C++ simulator and functional model run. One entry point:
`python3 -m training COMMAND` from the repository's root (`__main__.py` lists them).

Laid out by role; each part imports only from the parts above it (and from itself), and
no module imports one that imports it back (tests/test_layout.py checks both):

  common.py, data.py,   shared helpers (files, errors, log, checkpoints); the dataset;
  hvt.py                the HVT container the export writes and intref reads
  model/                what is trained: shape.py, backbone.py (the ViT), pruned.py
                        (selector bank, pruned forward pass, fake-quantised forms),
                        schedules.py, evaluation.py, costs.py (MACs, latency table),
                        teacher.py
  intref/               the integer reference of record (reference.py) and its exact
                        fast path (fast.py)
  export/               the quantize and masks stages, threshold calibration
                        (calibration.py), import_masks.py
  stages/               the training stages, one module each, in run_training.sh's order:
                        dense, bank, adapt, latency, dedicated, qat (+ step.py and
                        selector_training.py, what they share); then, after the export,
                        evaluate and sweep
  analyses/, card.py    one-off measurements behind figures of the model card (nothing
                        above imports them); the model card renderer
  tests/                python3 -m unittest discover -s training/tests -t .

The model's files (export/, the model card, backbones/, latency tables, logs) stay in
models/deit-micro/, where the C++ code and users find them (common.ARTIFACTS).
"""

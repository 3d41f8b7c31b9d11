"""The training side of heatvit: deit-micro, the model trained here, from Fashion-MNIST to
the integer export the C++ simulator and functional model run. One entry point:
`python3 -m training COMMAND` from the repository's root (`__main__.py` lists them).

Laid out by role; imports only go down this list, never up:

  common.py, data.py    shared helpers (files, errors, log, checkpoints); the dataset
  model/                what is trained: shape.py, backbone.py (the ViT), pruned.py
                        (selector bank, pruned forward pass, fake-quantised forms),
                        schedules.py, evaluation.py, costs.py (MACs, latency table),
                        teacher.py
  intref/               the integer reference of record (reference.py) and its exact
                        fast path (fast.py)
  stages/               the pipeline, one module per stage, in run_training.sh's order:
                        dense, bank, adapt, latency, dedicated, qat (+ loop.py and
                        selector_training.py, what they share), then evaluate, sweep
  export/               quantize and masks stages, threshold calibration, HVT container
  analyses/             one-off measurements behind figures of the model card; nothing in
                        the pipeline imports them
  card.py               renders the model card, models/deit-micro/README.md
  tests/                python3 -m unittest discover -s training/tests -t .

The model's files (export/, the model card, backbones/, latency tables, logs) stay in
models/deit-micro/, where the C++ code and users find them (common.ARTIFACTS).
"""

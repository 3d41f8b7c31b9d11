"""The pipeline's training stages, one module each, in the order run_training.sh runs them:
dense, bank, adapt (two cycles), latency, dedicated (beside qat), qat; then the export
(training.export: quantize, masks) and evaluate and sweep here. teacher is an optional
stage 0. step.py and selector_training.py hold what the stages share; a new stage is one
more module here and one line in training/__main__.py and run_training.sh."""

"""One-off measurements behind figures and statements of the model card; the pipeline
never imports them. Each is a command of `python3 -m training` (its module docstring says
what it measures and where its output is used)."""

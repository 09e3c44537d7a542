"""Report builders shared by the models: figures, classification, regression, search, curves.

Each builder adds its plots and tables to the `TrainingRun` and returns the metrics it
measured, so a model's `evaluate` reads as a list of the reports it wants. matplotlib is
imported here and nowhere on the serving path.
"""

"""One module per framework: how its artifacts are stored and loaded, and a base spec.

    base       an artifact dataclass as one framework object plus JSON metadata
    numpy      arrays in an `.npz` (allow_pickle=False)           NumpySpec
    json       a dataclass as JSON (analyses, tuned optimisers)    JsonSpec
    sklearn    skops with our trusted types; vocabularies as JSON  SklearnSpec
    xgboost    XGBoost's own UBJSON                                XGBoostSpec
    onnx       ONNX Runtime sessions: how networks are served      OnnxNetwork
    compiled   classic models converted to ONNX at publish time    CompiledGraph
    replay     fitted scikit-learn steps replayed in NumPy         replay_columns, ...
    torch      PyTorch training loop, safetensors, ONNX export     TorchSpec (training only)

Nothing here unpickles: each loader reads only data formats.
"""

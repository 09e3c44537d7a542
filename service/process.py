"""What a process that only serves sets up once, before it loads any model.

- Training-only imports are refused (`import_guard`): PyTorch never loads in a server.
- Once the models are loaded, what they hold is frozen out of the garbage collector's
  reach (`models_loaded`).
- NumPy's BLAS may use as many threads as a model call may (PRACTICA_INFERENCE_THREADS,
  as ONNX Runtime and XGBoost do). OpenBLAS otherwise starts one thread per core for
  every product (k-NN, PCA, the replayed linear models), and on a server those threads
  contend with the event loop and with other workers for the same cores: mnist-knn
  answered in 2.3 ms over HTTP on one core with two BLAS threads, 0.8 ms with one.

The library function `service.create_app` leaves the process alone, so a training
script or a test may create apps too.
"""

import gc

from service.import_guard import keep_training_libraries_out

_serving = False


def prepare_serving_process(inference_threads: int) -> None:
    global _serving
    _serving = True
    keep_training_libraries_out()
    import numpy  # noqa: F401  (loads the BLAS library whose threads are limited below)
    from threadpoolctl import threadpool_limits

    threadpool_limits(inference_threads, user_api="blas")


def models_loaded() -> None:
    """In a serving process, move every object alive now (the loaded models' trees,
    vocabularies and estimators) to the collector's permanent generation.

    With the classic models loaded a full collection walks about 270,000 objects and
    takes 190 ms on this project's machine, every request on the event loop waiting; the
    collector runs one whenever enough objects have outlived two younger collections.
    Frozen objects are never walked again; requests' short-lived objects are still
    collected. Called after every refresh that swapped a version in (the first one loads
    them all): what an old version held is collected then, in one full collection, and
    the new version frozen with the rest.
    """
    if _serving:
        gc.unfreeze()
        gc.collect()
        gc.freeze()

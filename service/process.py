"""What a process that only serves sets up once, before it loads any model.

- Training-only imports are refused (`import_guard`): PyTorch never loads in a server.
- NumPy's BLAS may use as many threads as a model call may (PRACTICA_INFERENCE_THREADS,
  as ONNX Runtime and XGBoost do). OpenBLAS otherwise starts one thread per core for
  every product (k-NN, PCA, the replayed linear models), and on a server those threads
  contend with the event loop and with other workers for the same cores: mnist-knn
  answered in 2.3 ms over HTTP on one core with two BLAS threads, 0.8 ms with one.

The library function `service.create_app` leaves the process alone, so a training
script or a test may create apps too.
"""

from service.import_guard import keep_training_libraries_out


def prepare_serving_process(inference_threads: int) -> None:
    keep_training_libraries_out()
    import numpy  # noqa: F401  (loads the BLAS library whose threads are limited below)
    from threadpoolctl import threadpool_limits

    threadpool_limits(inference_threads, user_api="blas")

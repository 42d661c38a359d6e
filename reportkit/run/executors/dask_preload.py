"""Imported once by a LocalCluster's fork server (reportkit.run.executors.dask), so that every
dask worker forked from it starts with distributed, papermill and the exporters loaded, where
each spawned worker used to import them itself: about 0.6 CPU-s per worker, on the cores the
first units need.

The server is where the workers' numpy is imported, so it takes the single-threaded BLAS that
distributed gives the workers it spawns (`distributed.nanny.pre-spawn-environ`): no thread
pool to fork past, and none per worker.
"""

import os

for _variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

from reportkit.run.execution import preload_worker_modules  # noqa: E402
from reportkit.run.executors import dask  # noqa: E402, F401 - distributed, run_unit, plugins

preload_worker_modules()

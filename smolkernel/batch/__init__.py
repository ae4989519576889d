"""Many agents at once: ``run_batch`` over inputs, locally or on Dask.

See :func:`smolkernel.batch.engine.arun_batch` for the options.
"""

from .engine import arun_batch, run_batch
from .limiter import ModelLimiter
from .results import BatchResult, TaskResult, read_results

__all__ = ["run_batch", "arun_batch", "BatchResult", "TaskResult", "ModelLimiter", "read_results"]

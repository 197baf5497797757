"""Measurements behind tools/benchmark.py, one module per benchmark.

- `model_size`: parameters and multiply-adds (--info)
- `latency`: inference paths timed in turn against eager fp32 (--speed)
- `allocator_ab`: the same with and without `utils.allocator`, a fresh process per case
  (--allocator)
- `multiscale`: the original's multi-scale + flip loop against the Predictor (--multiscale)
- `training`: training steps and demo epochs, a process per path (--train)
- `data_pipeline`: a training sample against the bare decoding of its files (--data)

Shared by them: `timing` (interleaved timing, statistics, the load of other processes),
`fresh_process` (a function run in a new process with its own allocator, threads and
environment) and `model_setup` (the timed models and inputs).
"""

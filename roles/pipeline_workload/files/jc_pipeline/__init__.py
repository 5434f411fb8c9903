"""jc_pipeline: workload III, a 2-D convolution program split into a chain of gRPC stages.

producer -> convolution -> ReLU -> maxpool, each stage a server of ``conv.GetDataService``
that pulls a server stream from the stage before it; ``monolith`` does the same maths in one
process. Run as ``python3 -m jc_pipeline`` (see README.md).
"""

__version__ = "0.1.0"

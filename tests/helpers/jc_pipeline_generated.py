"""The gRPC code of jc_pipeline, generated once per test module into a temporary directory and
found by the stages through JC_PIPELINE_GENERATED (jc_pipeline/wire.py); the variable's old value
is put back afterwards. Shared by tests/integration/test_jc_pipeline_grpc.py and
tests/unit/roles/test_jc_resnet_split_grpc_torch.py (which runs in the torch container):

    generated = pytest.fixture(scope="module", autouse=True)(generated_code)
"""

import os


def generated_code(tmp_path_factory):
    from jc_pipeline import wire  # the test module has put roles/pipeline_workload/files on sys.path

    out = tmp_path_factory.mktemp("jc-pipeline-generated")
    old = os.environ.get("JC_PIPELINE_GENERATED")
    os.environ["JC_PIPELINE_GENERATED"] = str(out)
    wire.generate(str(out))
    yield out
    if old is None:
        del os.environ["JC_PIPELINE_GENERATED"]
    else:
        os.environ["JC_PIPELINE_GENERATED"] = old

"""pipeline_workload's ResNet-50 split on the nodes' Docker (tasks/split.yml, split_run.yml): off unless
asked for, its variables documented, the containers' commands as Ansible renders them from the role's
defaults, and check mode running nothing (ansible-playbook for real, against hosts it never reaches).
The run itself is the lab's (tests/integration/test_lab.py, docs/benchmarks.md)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar
from role_files import role_yaml, trusted

ROOT = Path(__file__).resolve().parents[3]
ROLE = ROOT / "roles" / "pipeline_workload"
sys.path.insert(0, str(ROLE / "files"))

from jc_pipeline import __main__ as jc_main  # noqa: E402  (the role's program, by path)


def _tasks(path):
    """Every task of a tasks file, blocks, rescue and always opened, by name."""
    found = {}

    def walk(items):
        for task in items or []:
            for part in ("block", "rescue", "always"):
                walk(task.get(part))
            if "name" in task:
                found[task["name"]] = task
    walk(yaml.safe_load(path.read_text()))
    return found


RUN = _tasks(ROLE / "tasks" / "split_run.yml")
PLAN = {"depth": 2, "hosts": ["worker1", "worker2"], "cuts": ["layer2"], "images": 4, "batch": 2,
        "stages": [{"index": 0, "host": "worker1", "listen": "0.0.0.0:50051", "upstream": ""},
                   {"index": 1, "host": "worker2", "listen": "0.0.0.0:50052", "upstream": "10.0.0.2:50051"}],
        "sink_host": "worker2", "address": "10.0.0.3:50052",
        "dataparallel": [{"index": 0, "host": "worker1"}, {"index": 1, "host": "worker2"}]}


def render(value, **overrides):
    variables = role_yaml(ROLE / "defaults" / "main.yml")
    variables.update({"groups": {"all": ["master", "worker1", "worker2"], "k3s_server": ["master"],
                                 "k3s_agents": ["worker1", "worker2"]},
                      "gpu_workloads_image": "edgeai-jc/jc-infer:0.1.0",
                      "pipeline_workload_docker_image": "edgeai-jc/jc-pipeline:abc",
                      "pipeline_workload_split_plan": PLAN})
    variables.update(overrides)
    return Templar(loader=DataLoader(), variables=variables).template(trusted(value))


def test_the_split_is_off_by_default_and_on_with_its_variable_or_its_tag():
    defaults = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
    assert defaults["pipeline_workload_split"] is False
    gate = yaml.safe_load((ROLE / "tasks" / "split.yml").read_text())[0]["when"]
    assert gate == "pipeline_workload_split | bool or 'pipeline_split' in ansible_run_tags | default([])"
    plays = yaml.safe_load((ROOT / "playbooks" / "benchmark.yml").read_text())
    split = [play for play in plays if "pipeline_split" in play.get("tags", [])]
    assert len(split) == 1 and split[0]["tags"] == ["pipeline_split"]
    assert split[0]["tasks"][0]["ansible.builtin.include_role"] == {
        "name": "edgeai.jetson_cluster.pipeline_workload", "tasks_from": "split"}
    # No other play carries the tag, so --tags pipeline_split runs only the split (and its report).
    assert all("pipeline_split" not in play.get("tags", []) for play in plays if play is not split[0])


def test_every_split_variable_is_in_the_argument_specs_with_its_default():
    defaults = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
    options = yaml.safe_load((ROLE / "meta" / "argument_specs.yml").read_text())["argument_specs"]["split"]["options"]
    names = sorted(name for name in defaults if name.startswith("pipeline_workload_split"))
    assert names == sorted(name for name in options if name.startswith("pipeline_workload_split"))
    for name in options:
        assert options[name]["default"] == defaults[name], name
        assert options[name]["description"], name


def test_default_hosts_are_the_first_two_edge_hosts():
    assert render("{{ pipeline_workload_split_hosts }}") == ["worker1", "worker2"]


def test_stages_cut_where_the_plan_says_and_pull_from_the_stage_before():
    task = RUN["Start the split's stages"]["community.docker.docker_container"]
    first, second = (render(task["command"], item=stage) for stage in PLAN["stages"])
    assert first == ["split-stage", "--cuts", "layer2", "--index", "0", "--listen", "0.0.0.0:50051", "--batch", "2",
                     "--threads", "1", "--device", "cpu", "--connect-timeout", "120", "--idle-timeout", "60",
                     "--input-cache-mb", "256"]
    assert second[:8] == ["split-stage", "--cuts", "layer2", "--index", "1", "--listen", "0.0.0.0:50052", "--batch"]
    assert second[-2:] == ["--upstream", "10.0.0.2:50051"]
    # Every stage parses with the program's own argument parser (no unknown flag).
    for command in (first, second):
        parsed = _parse(command)
        assert (parsed.cuts, parsed.threads, parsed.batch) == ("layer2", 1, 2)
    assert render(task["network_mode"]) == "host" and render(task["cpus"]) == 1
    assert render(task["env"]) == {"OMP_NUM_THREADS": "1"}


def _parse(argv):
    """argparse's namespace for a jc_pipeline command line, without running it."""
    captured = {}
    saved = dict(jc_main.COMMANDS)
    try:
        for name in jc_main.COMMANDS:
            jc_main.COMMANDS[name] = lambda args: captured.update(args=args) or 0
        assert jc_main.main(list(argv)) == 0
    finally:
        jc_main.COMMANDS.update(saved)
    return captured["args"]


def test_the_sink_drops_the_warm_up_stream_and_prints_every_timed_one(tmp_path):
    task = RUN["The sink, one warm-up stream, then the timed streams"]["community.docker.docker_container"]
    script = render(task["command"])[0]
    assert script.startswith("for i in $(seq 0 2); do report=$(python3 -m jc_pipeline split-pull "
                             "--address 10.0.0.3:50052 --key 224x224,seed=1 --datacount 4 --batch 2 ")
    pull = script.split("python3 -m jc_pipeline ", 1)[1].split(")", 1)[0].split()
    parsed = _parse(pull)
    assert (parsed.datacount, parsed.batch, parsed.idle_timeout) == (4, 2, 240.0)
    # The script itself, with a python3 that prints one numbered report per stream: the warm-up
    # stream's report is dropped, each timed one printed; a failed stream ends it with its status.
    fake = tmp_path / "python3"
    fake.write_text('#!/bin/sh\nn=$(cat "$0.n" 2>/dev/null || echo 0); echo $((n + 1)) > "$0.n"\n'
                    '[ "$n" = "$FAIL_AT" ] && { echo "pipeline failed: stage 1" >&2; exit 1; }\n'
                    'echo "{\\"stream\\": $n}"\n')
    fake.chmod(0o755)
    env = dict(os.environ, PATH="%s:%s" % (tmp_path, os.environ["PATH"]), FAIL_AT="none")
    done = subprocess.run(["sh", "-c", script], capture_output=True, text=True, env=env)
    assert (done.returncode, done.stdout) == (0, '{"stream": 1}\n{"stream": 2}\n'), done
    (tmp_path / "python3.n").unlink()
    done = subprocess.run(["sh", "-c", script], capture_output=True, text=True, env=dict(env, FAIL_AT="1"))
    assert (done.returncode, done.stdout, done.stderr) == (1, "", "pipeline failed: stage 1\n"), done


def test_the_planner_times_one_image_on_one_thread_for_as_many_stages_as_hosts():
    task = RUN["Choose the cuts with the planner on {{ pipeline_workload_split_hosts[0] }}"]
    command = render(task["community.docker.docker_container"]["command"])
    assert command == ["split-plan", "--stages", "2", "--batch", "1", "--threads", "1", "--device", "cpu",
                       "--link-mbit", "1000"]
    parsed = _parse(command)
    assert (parsed.stages, parsed.batch, parsed.link_mbit) == (2, 1, 1000.0)
    assert render("{{ %s }}" % task["when"]) is True
    assert render("{{ %s }}" % task["when"], pipeline_workload_split_cuts=["layer1"]) is False


def test_jc_infer_runs_the_same_images_per_container_as_a_stream_of_the_split():
    task = RUN["Start jc_infer on every host of the split"]["community.docker.docker_container"]
    env = render(task["env"], item=1)
    assert env == {"WORKLOAD_MODE": "synthetic", "JOB_COMPLETION_INDEX": "1", "TOTAL_JOBS": "2", "TOTAL_IMAGES": "8",
                   "BATCH_SIZE": "2", "DEVICE": "cpu", "PRECISION": "fp32", "WARMUP_BATCHES": "1",
                   "NODE_NAME": "worker2", "OMP_NUM_THREADS": "1"}
    assert render(task["image"]) == "edgeai-jc/jc-infer:0.1.0"
    assert render(task["hostname"], item=1) == "worker2-1"


def _playbook(tmp_path, *args, play=None):
    inventory = tmp_path / "hosts.yml"
    # Hosts that do not exist: check mode must not try to reach them.
    inventory.write_text(yaml.safe_dump({"all": {"children": {
        "k3s_server": {"hosts": {"master": {"ansible_host": "192.0.2.1"}}},
        "k3s_agents": {"hosts": {"worker1": {"ansible_host": "192.0.2.2"}, "worker2": {"ansible_host": "192.0.2.3"}}},
    }}}))
    path = ROOT / "playbooks" / "benchmark.yml"
    if play is not None:
        path = tmp_path / "play.yml"
        path.write_text(yaml.safe_dump(play))
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0",
               ANSIBLE_STDOUT_CALLBACK="ansible.builtin.default")
    bindir = Path(sys.executable).parent
    proc = subprocess.run([str(bindir / "ansible-playbook"), str(path), "-i", str(inventory), *args], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=300)
    return proc.returncode, proc.stdout + proc.stderr


def test_check_mode_with_the_tag_runs_nothing_and_says_so(tmp_path):
    rc, output = _playbook(tmp_path, "--check", "--tags", "pipeline_split",
                           "-e", f"gpu_workloads_report_dir={tmp_path / 'report'}")
    assert rc == 0, output[-3000:]
    assert "check mode: the ResNet-50 split on worker1, worker2 is not run" in output, output[-3000:]
    assert "localhost                  : ok=" in output and " changed=0 " in output.split("PLAY RECAP")[-1]
    assert not (tmp_path / "report").exists()


def test_without_the_tag_or_the_variable_the_split_is_skipped(tmp_path):
    play = [{"name": "the split's entry point, neither tag nor variable", "hosts": "localhost",
             "connection": "local", "gather_facts": False,
             "tasks": [{"ansible.builtin.include_role": {"name": "edgeai.jetson_cluster.pipeline_workload",
                                                          "tasks_from": "split"}}]}]
    rc, output = _playbook(tmp_path, play=play)
    assert rc == 0, output[-3000:]
    assert "skipping: [localhost]" in output, output[-3000:]
    recap = output.split("PLAY RECAP")[-1]
    assert " changed=0 " in recap and " failed=0 " in recap, recap
    assert "check mode:" not in output and "Build the stage image" not in output


def test_dataparallel_log_holds_each_containers_last_result_line_one_per_line():
    # What the report parses (module_utils/split_report.parse_infer_runs): one jc_infer result line
    # per container, in index order. The lab's first run wrote both on one line (a literal "\n").
    from ansible_collections.edgeai.jetson_cluster.plugins.module_utils import split_report

    def result(index, throughput):
        return ('{"index": %d, "total_jobs": 2, "errors": 0, "throughput": %s, "images": 4}'
                % (index, throughput))
    ended = [{"index": i, "container": {"Output": "jc_infer: loading\n%s\n%s\n" % (
        '{"progress": 1}'.replace("progress", "note"), result(i, 0.5 + i))}} for i in (0, 1)]
    task = RUN["Keep each jc_infer container's result line"]["ansible.builtin.copy"]
    text = render(task["content"], pipeline_workload_split_dp_ended=ended)
    assert text == result(0, 0.5) + "\n" + result(1, 1.5) + "\n"
    assert split_report.parse_infer_runs(text) == [{"containers": 2, "fps": 2.0, "per_container": [0.5, 1.5]}]

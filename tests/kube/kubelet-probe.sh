#!/usr/bin/env bash
# Can a REAL kubelet run in the lab's unprivileged systemd host containers? Starts one such
# container exactly as the lab and Molecule do (playbooks/vars/systemd_host.yml: explicit
# capability list, seccomp/apparmor unconfined, cgroupns host, /sys/fs/cgroup rw, tmpfs /run),
# installs Debian's containerd (a CRI runtime) in it, and runs jc-kube's kubelet standalone
# (no API server) against it, then prints what the kubelet logged: how far it got, and the
# exact error where it stopped. Evidence for issue 17; it changes nothing outside the container.
# As the lab's containers are, it stops at `open /dev/kmsg: no such file or directory`; what a
# kubelet needs beyond that, and a kubelet that runs pods through cri-dockerd, are in
# tests/integration/test_kube_node.py and tests/kube/README.md ("Stage 2").
#
#   tests/kube/kubelet-probe.sh [JC_KUBE_BINARY]     # default: tests/harness/kube-build.sh --path
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
binary=${1:-$("$top/tests/harness/kube-build.sh" --path)}
name=jc-kubelet-probe-$$
image=${EDGEAI_JC_PROBE_IMAGE:-edgeai-jc/debian-systemd:bookworm-amd64}
seconds=${EDGEAI_JC_PROBE_SECONDS:-60}

read -r -a caps < <("$top/.venv/bin/python" -c '
import sys, yaml
v = yaml.safe_load(open(sys.argv[1]))
print(" ".join("--cap-add " + c for c in v["systemd_host_capabilities"]))' "$top/playbooks/vars/systemd_host.yml")

cleanup() { docker rm -f "$name" >/dev/null 2>&1 || true; }
trap cleanup EXIT
# shellcheck disable=SC2068
docker run -d --name "$name" --cap-drop ALL ${caps[@]} \
  --security-opt seccomp=unconfined --security-opt apparmor=unconfined \
  --cgroupns=host -v /sys/fs/cgroup:/sys/fs/cgroup:rw --tmpfs /run --tmpfs /run/lock \
  "$image" /lib/systemd/systemd >/dev/null
docker cp "$binary" "$name:/usr/local/bin/jc-kube"
for _ in $(seq 60); do
  state=$(docker exec "$name" systemctl is-system-running 2>/dev/null || true)
  case "$state" in running|degraded) break ;; esac
  sleep 1
done
echo "== container systemd: $state"
docker exec "$name" sh -c 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends containerd runc >/dev/null' \
  || { echo "== apt-get install containerd failed"; exit 1; }
docker exec "$name" sh -c 'mkdir -p /etc/containerd && containerd config default > /etc/containerd/config.toml && systemctl restart containerd && sleep 3; systemctl is-active containerd; containerd --version'
echo "== kubelet (standalone, ${seconds}s)"
docker exec "$name" sh -c "mkdir -p /etc/kubernetes/manifests /var/lib/kubelet && \
  timeout $seconds /usr/local/bin/jc-kube kubelet --v=2 \
    --container-runtime-endpoint=unix:///run/containerd/containerd.sock \
    --cgroup-driver=cgroupfs --fail-swap-on=false --pod-manifest-path=/etc/kubernetes/manifests \
    --hostname-override=kubelet-probe > /var/log/kubelet.log 2>&1; echo \"kubelet exit status: \$?\""
echo "== kubelet errors and milestones"
docker exec "$name" grep -E '^[EF][0-9]{4}|Started kubelet|Starting to sync pod|failed|Failed|error:' /var/log/kubelet.log \
  | grep -v 'RunPodSandbox\|no such host\|Unable to register node' | cut -c1-400 | sort -u -k5 | head -40 || true
echo "== kubelet log tail"
docker exec "$name" tail -n 15 /var/log/kubelet.log | cut -c1-400

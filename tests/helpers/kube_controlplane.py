"""A REAL Kubernetes control plane for the tests, from jc-kube (tests/kube; built and cached by
tests/harness/kube-build.sh): kine on SQLite as the datastore (as k3s runs it), kube-apiserver,
kube-controller-manager and kube-scheduler, as plain processes bound to 127.0.0.1 in a private
directory, with their own CA and certificates (made with openssl, like tests/doubles/k3s does).

None of them needs a privilege, a container or a free well-known port: every listener is on a
free port of 127.0.0.1 (or off), so several can run at once. The node side is kwok (``start_kwok``):
the NODE STAND-IN (built beside jc-kube from its own module), a controller that keeps the nodes it manages Ready through the API and plays
their pods' lifecycle without a kubelet or containers.

    plane = ControlPlane(tmp_path)      # binary: kube_binary()
    plane.start()                       # returns once /readyz answers ok
    api = plane.client()                # kubernetes.client.ApiClient (admin)
    plane.start_kwok()
    plane.stop()
"""

import os
import signal
import socket
import ssl
import subprocess
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
KUBE_BUILD = ROOT / "tests" / "harness" / "kube-build.sh"
# Annotation that marks the nodes kwok manages (kwok's own convention).
KWOK_ANNOTATION = "kwok.x-k8s.io/node"


def kube_binary():
    """Path of the jc-kube binary for the current sources (kwok beside it); AssertionError when
    they are not built."""
    path = Path(subprocess.run([str(KUBE_BUILD), "--path"], stdout=subprocess.PIPE, check=True,
                               universal_newlines=True).stdout.strip())
    if not (os.access(str(path), os.X_OK) and os.access(str(path.parent / "kwok"), os.X_OK)):
        raise AssertionError("jc-kube is not built for the current tests/kube sources (%s): run "
                             "tests/harness/kube-build.sh (make bootstrap does)" % path)
    return path


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def openssl(*args):
    proc = subprocess.run(("openssl",) + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError("openssl %s failed: %s" % (" ".join(args[:2]), proc.stderr.strip()))


class ControlPlane(object):
    """kine + kube-apiserver + kube-controller-manager + kube-scheduler under ``workdir``."""

    def __init__(self, workdir, binary=None, service_cidr="10.43.0.0/16", cluster_cidr="10.42.0.0/16"):
        self.dir = Path(workdir)
        self.binary = str(binary or kube_binary())
        self.service_cidr = service_cidr
        self.cluster_cidr = cluster_cidr
        self.tls = self.dir / "tls"
        self.port = None
        self.procs = {}

    # --- certificates --------------------------------------------------------------------
    def _ca(self):
        key, crt = self.tls / "ca.key", self.tls / "ca.crt"
        openssl("req", "-x509", "-new", "-nodes", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                "-keyout", str(key), "-out", str(crt), "-days", "2", "-subj", "/CN=jc-kube-ca",
                "-addext", "basicConstraints=critical,CA:TRUE",
                "-addext", "keyUsage=critical,keyCertSign,cRLSign,digitalSignature")
        return crt, key

    def _leaf(self, name, subject, usage, san=None):
        key, csr, crt = (self.tls / (name + ext) for ext in (".key", ".csr", ".crt"))
        ext = self.tls / (name + ".ext")
        lines = ["basicConstraints=critical,CA:FALSE", "keyUsage=critical,digitalSignature,keyEncipherment",
                 "extendedKeyUsage=" + usage]
        if san:
            lines.append("subjectAltName=" + ",".join(san))
        ext.write_text("\n".join(lines) + "\n")
        openssl("req", "-new", "-nodes", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                "-keyout", str(key), "-out", str(csr), "-subj", subject)
        openssl("x509", "-req", "-in", str(csr), "-CA", str(self.tls / "ca.crt"), "-CAkey", str(self.tls / "ca.key"),
                "-CAcreateserial", "-days", "2", "-out", str(crt), "-extfile", str(ext))
        return crt, key

    def _kubeconfig(self, name, crt, key):
        path = self.dir / (name + ".kubeconfig")
        path.write_text(
            "apiVersion: v1\nkind: Config\n"
            "clusters:\n- name: jc-kube\n  cluster:\n    server: https://127.0.0.1:%d\n"
            "    certificate-authority: %s\n"
            "users:\n- name: %s\n  user:\n    client-certificate: %s\n    client-key: %s\n"
            "contexts:\n- name: jc-kube\n  context: {cluster: jc-kube, user: %s}\n"
            "current-context: jc-kube\n" % (self.port, self.tls / "ca.crt", name, crt, key, name))
        os.chmod(str(path), 0o600)
        return path

    def _certificates(self):
        self.tls.mkdir(parents=True, exist_ok=True)
        self._ca()
        first_service_ip = self.service_cidr.split("/")[0].rsplit(".", 1)[0] + ".1"
        self._leaf("apiserver", "/CN=kube-apiserver", "serverAuth",
                   ["IP:127.0.0.1", "IP:" + first_service_ip, "DNS:localhost", "DNS:kubernetes",
                    "DNS:kubernetes.default", "DNS:kubernetes.default.svc",
                    "DNS:kubernetes.default.svc.cluster.local"])
        openssl("genrsa", "-out", str(self.tls / "service-account.key"), "2048")
        openssl("rsa", "-in", str(self.tls / "service-account.key"), "-pubout",
                "-out", str(self.tls / "service-account.pub"))
        # The identities k3s gives its components; RBAC's bootstrap roles grant them their rights.
        self.kubeconfigs = {
            "admin": self._kubeconfig("admin", *self._leaf("admin", "/O=system:masters/CN=system:admin", "clientAuth")),
            "controller-manager": self._kubeconfig("controller-manager", *self._leaf(
                "controller-manager", "/CN=system:kube-controller-manager", "clientAuth")),
            "scheduler": self._kubeconfig("scheduler", *self._leaf(
                "scheduler", "/CN=system:kube-scheduler", "clientAuth")),
        }

    # --- processes -----------------------------------------------------------------------
    def _spawn(self, name, *args, **kwargs):
        """Run jc-kube's component ``name`` (or the program ``binary``) with its log in the workdir."""
        command = [kwargs["binary"]] if "binary" in kwargs else [self.binary, name]
        log = open(str(self.dir / (name + ".log")), "wb")
        self.procs[name] = (subprocess.Popen(command + list(args), stdout=log, stderr=subprocess.STDOUT,
                                             stdin=subprocess.DEVNULL, cwd=str(self.dir), start_new_session=True), log)

    def log_tail(self, name, lines=40):
        path = self.dir / (name + ".log")
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

    def _check_alive(self):
        for name, (proc, _) in self.procs.items():
            if proc.poll() is not None:
                raise AssertionError("%s exited with %s:\n%s" % (name, proc.returncode, self.log_tail(name)))

    def _wait(self, what, predicate, timeout):
        deadline = time.time() + timeout
        while time.time() < deadline:
            self._check_alive()
            if predicate():
                return
            time.sleep(0.5)
        raise AssertionError("timed out after %ss waiting for %s; logs:\n%s" % (
            timeout, what, "\n".join("--- %s\n%s" % (n, self.log_tail(n)) for n in self.procs)))

    def readyz(self):
        """The body of GET /readyz with the admin certificate ('' when it does not answer)."""
        context = ssl.create_default_context(cafile=str(self.tls / "ca.crt"))
        context.load_cert_chain(str(self.tls / "admin.crt"), str(self.tls / "admin.key"))
        try:
            with urllib.request.urlopen("https://127.0.0.1:%d/readyz" % self.port, context=context,
                                        timeout=5) as reply:
                return reply.read().decode()
        except (OSError, ssl.SSLError):
            return ""

    def start(self, timeout=240):
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self._certificates()
        kine_port = free_port()
        self._spawn("kine", "--listen-address", "127.0.0.1:%d" % kine_port,
                    "--endpoint", "sqlite://%s?_journal=WAL&cache=shared&_busy_timeout=30000" % (self.dir / "state.db"))

        def kine_listens():
            try:
                socket.create_connection(("127.0.0.1", kine_port), timeout=1).close()
                return True
            except OSError:
                return False
        self._wait("kine to listen", kine_listens, 60)
        tls = self.tls
        self._spawn(
            "kube-apiserver",
            "--etcd-servers=http://127.0.0.1:%d" % kine_port, "--storage-backend=etcd3",
            "--bind-address=127.0.0.1", "--advertise-address=127.0.0.1", "--secure-port=%d" % self.port,
            "--cert-dir=%s" % (self.dir / "apiserver-certs"),
            "--tls-cert-file=%s" % (tls / "apiserver.crt"), "--tls-private-key-file=%s" % (tls / "apiserver.key"),
            "--client-ca-file=%s" % (tls / "ca.crt"), "--anonymous-auth=false",
            "--authorization-mode=Node,RBAC", "--enable-admission-plugins=NodeRestriction",
            "--allow-privileged=true", "--profiling=false",
            "--service-cluster-ip-range=%s" % self.service_cidr,
            "--service-account-key-file=%s" % (tls / "service-account.pub"),
            "--service-account-signing-key-file=%s" % (tls / "service-account.key"),
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            "--api-audiences=https://kubernetes.default.svc.cluster.local,k3s")
        self._wait("kube-apiserver /readyz", lambda: self.readyz().strip() == "ok", timeout)
        self._spawn(
            "kube-controller-manager",
            "--kubeconfig=%s" % self.kubeconfigs["controller-manager"], "--leader-elect=false",
            "--secure-port=0", "--use-service-account-credentials=true",
            "--service-account-private-key-file=%s" % (tls / "service-account.key"),
            "--root-ca-file=%s" % (tls / "ca.crt"),
            "--cluster-cidr=%s" % self.cluster_cidr, "--allocate-node-cidrs=true",
            "--service-cluster-ip-range=%s" % self.service_cidr)
        self._spawn("kube-scheduler", "--kubeconfig=%s" % self.kubeconfigs["scheduler"], "--leader-elect=false",
                    "--secure-port=0")
        return self

    def start_kwok(self):
        """kwok, the node stand-in, for the nodes annotated kwok.x-k8s.io/node=fake."""
        self._spawn("kwok", "--kubeconfig=%s" % self.kubeconfigs["admin"],
                    "--manage-all-nodes=false", "--manage-nodes-with-annotation-selector=%s=fake" % KWOK_ANNOTATION,
                    "--cidr=%s" % self.cluster_cidr, binary=str(Path(self.binary).parent / "kwok"))

    def client(self):
        from kubernetes import config
        return config.new_client_from_config(config_file=str(self.kubeconfigs["admin"]))

    def stop(self):
        for name in reversed(list(self.procs)):
            proc, log = self.procs[name]
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
            log.close()
        self.procs = {}

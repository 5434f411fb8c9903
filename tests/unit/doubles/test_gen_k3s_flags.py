"""gen_k3s_flags.py reads k3s's urfave/cli flag definitions (pkg/cli/cmds/*.go) into k3s-flags.json.

The Go below is written for these tests in the shape of k3s's sources (named flag variables,
inline literals, "long,short" names, Hidden, comments); it is not copied from k3s.
"""

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "tests" / "doubles" / "k3s"))
import gen_k3s_flags  # noqa: E402

SHARED = '''
var (
	ConfigFlag = cli.StringFlag{
		Name:   "config,c",
		Usage:  "(config) Load configuration from `FILE`",
	}
	NodeIPFlag = &cli.StringSliceFlag{
		Name:  "node-ip,i",
		Usage: "(agent/networking) IPv4/IPv6 addresses to advertise for node",
	}
	DockerFlag = &cli.BoolFlag{
		Name:        "docker",
		Usage:       "(agent/runtime) (experimental) Use cri-dockerd instead of containerd",
	}
)
'''

SERVER = '''
var ServerFlags = []cli.Flag{
	ConfigFlag,
	&cli.IntFlag{
		Name:        "https-listen-port",
		Usage:       "(listener) HTTPS listen port {not a brace}",
		Value:       6443,
	},
	// Hidden/Deprecated flags below
	&cli.BoolFlag{
		Name:        "disable-agent",
		Hidden:      true,
	},
	NodeIPFlag,
}
'''

AGENT = '''
func NewAgentCommand(action func(ctx *cli.Context) error) cli.Command {
	return cli.Command{
		Name:      "agent",
		Flags: []cli.Flag{
			ConfigFlag,
			&cli.StringFlag{
				Name:        "server,s",
				Usage:       "(cluster) Server to connect to",
			},
			NodeIPFlag,
			// Deprecated/hidden below
			DockerFlag,
		},
	}
}
'''


def test_lists_resolve_variables_and_inline_flags():
    result = gen_k3s_flags.generate("v1.30.6+k3s1", "test", [SHARED, SERVER, AGENT])
    assert sorted(result["server"]) == ["config", "disable-agent", "https-listen-port", "node-ip"]
    assert sorted(result["agent"]) == ["config", "docker", "node-ip", "server"]


def test_aliases_types_and_hidden_are_kept():
    result = gen_k3s_flags.generate("v1.30.6+k3s1", "test", [SHARED, SERVER, AGENT])
    assert result["server"]["node-ip"] == {"type": "StringSlice", "aliases": ["i"], "hidden": False}
    assert result["server"]["disable-agent"] == {"type": "Bool", "aliases": [], "hidden": True}
    assert result["agent"]["server"]["aliases"] == ["s"]
    assert result["server"]["https-listen-port"]["type"] == "Int"


def test_a_flag_variable_defined_nowhere_is_an_error():
    with pytest.raises(gen_k3s_flags.SourceError, match="flag variable ConfigFlag is not defined in the given files"):
        gen_k3s_flags.generate("v1.30.6+k3s1", "test", [SERVER, AGENT])


def test_a_missing_command_list_is_an_error():
    with pytest.raises(gen_k3s_flags.SourceError, match="no agent flag list"):
        gen_k3s_flags.generate("v1.30.6+k3s1", "test", [SHARED, SERVER])


def test_the_committed_list_has_what_k3s_server_and_agent_share_and_not_the_rest():
    import json
    flags = json.loads((ROOT / "tests" / "doubles" / "k3s" / "k3s-flags.json").read_text())
    for name in ("docker", "node-ip", "node-name", "node-label", "node-taint", "kubelet-arg", "token", "server"):
        assert name in flags["server"] and name in flags["agent"], name
    for name in ("cluster-cidr", "service-cidr", "tls-san", "write-kubeconfig-mode", "disable", "https-listen-port"):
        assert name in flags["server"] and name not in flags["agent"], name

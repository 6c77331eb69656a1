"""Network definitions (networks/definition.py): loading by name, file and module:Class; every
mistake is one ValueError line naming its key; templates render as documented."""

from __future__ import annotations

import os
import sys
import textwrap
import types
from pathlib import Path

import pytest

from networks.definition import load_network, parse, render

HERE = Path(__file__).resolve().parent
FAKE = HERE / "networks" / "httpserver.toml"
RUN = {"python": "/py", "workdir": "/w", "token": "tok", "parent_pid": 42}

MINIMAL = """
name = "mini"
adapter = "networks.adapter:Adapter"
[node]
command = ["run", "--port", "{http_port}", "{bootstrap}"]
ready = { http_get = "/status" }
join = { args = ["--peer", "{peer_http}"] }
"""


def node(i: int = 2, host: str = "127.0.0.1") -> dict:
    return {"name": f"n{i}", "index": i, "host": host, "data_dir": f"/w/n{i}"}


def load_text(text: str, tmp_path: Path):
    path = tmp_path / "net.toml"
    path.write_text(textwrap.dedent(text))
    return load_network(str(path))


def test_builtin_by_name_is_our_node():
    d = load_network("builtin")
    assert d.spec == "builtin" and d.node.per_node_address
    assert d.adapter_class.__name__ == "BuiltinAdapter"
    values = d.node_values(RUN, {**node(), "http_port": 8002, "grpc_port": 50052})
    assert values["http"] == "http://127.0.0.1:8002" and values["grpc"] == "127.0.0.1:50052"
    peers = [{"http": "http://a:1"}, {"http": "http://b:2"}]
    argv = d.command(values, peers)
    assert argv[:3] == ["/py", "-m", "node"]
    assert argv[-4:] == ["--bootstrap", "http://a:1", "--bootstrap", "http://b:2"]
    assert d.cwd(values).resolve() == HERE.parent  # the project root, as before
    assert d.env(values)["PEERLOAD_TOKEN"] == "tok"


def test_a_file_renders_files_env_and_urls():
    d = load_network(str(FAKE))
    assert d.spec == str(FAKE) and d.node.ports == ("http",)
    values = d.node_values(RUN, {**node(3), "http_port": 9000})
    assert values["shared_dir"] == "/w/n3/files" and values["grpc"] == ""
    [(path, text)] = d.files(values)
    assert path == Path("/w/n3/config.json")
    assert text == '{"name": "n3", "port": 9000, "shared": "/w/n3/files"}'  # JSON braces kept
    assert d.env(values) == {"NODE_NAME": "n3", "PYTHONPATH": _pythonpath(FAKE.parent)}
    peer = d.node_values(RUN, {**node(1), "http_port": 8000})
    assert d.join_request(values, peer) == ("GET", "http://127.0.0.1:8000/?joined-by=n3", "")


def test_join_after_start_on_self_or_peer(tmp_path):
    d = load_text(
        """
        name = "login"
        adapter = "networks.adapter:Adapter"
        [node]
        command = ["run"]
        ready = { tcp = "grpc" }
        join = { after_start = { path = "/login", body = '{"url": "{peer_http}"}', on = "self" } }
        """,
        tmp_path,
    )
    me = d.node_values(RUN, {**node(2), "http_port": 2, "grpc_port": 3})
    peer = d.node_values(RUN, {**node(1), "http_port": 1, "grpc_port": 4})
    method, url, body = d.join_request(me, peer)
    assert (method, url, body) == (
        "POST",
        "http://127.0.0.1:2/login",
        '{"url": "http://127.0.0.1:1"}',
    )
    assert d.node.ready_tcp == "grpc" and d.node.ready_port == "grpc"


def test_module_class_with_a_definition(tmp_path, monkeypatch):
    from networks.adapter import Adapter

    module = types.ModuleType("fake_net_mod")
    module.__file__ = str(tmp_path / "fake_net_mod.py")

    class Fake(Adapter):
        name = "fake"

    Fake.__module__ = "fake_net_mod"
    module.Fake = Fake
    module.DEFINITION = MINIMAL.replace('adapter = "networks.adapter:Adapter"\n', "")
    monkeypatch.setitem(sys.modules, "fake_net_mod", module)
    d = load_network("fake_net_mod:Fake")
    assert d.adapter == "fake_net_mod:Fake" and d.adapter_class is Fake and d.here == tmp_path


def test_render_leaves_other_braces_and_refuses_unknown_names():
    assert render('{"a": {x}}', {"x": "1"}, "w") == '{"a": 1}'
    with pytest.raises(ValueError, match=r"^w: unknown placeholder \{y\}$"):
        render("{y}", {}, "w")


BAD = [
    ("colour = 1", "colour: unknown key"),
    ('name = "Has Caps"', "name: 'Has Caps' must be lower case"),
    ('adapter = "nope.nothing:X"', "adapter 'nope.nothing:X': cannot import nope.nothing"),
    ('adapter = "networks.adapter:NodeInfo"', "is not a networks.adapter.Adapter class"),
    ('adapter = "no-colon"', "expected 'module:Class'"),
    ("max_nodes = 0", "max_nodes: must be 1..243"),
    ("max_nodes = 244", "max_nodes: must be 1..243"),
    ("memory_mb = 0", "memory_mb: must be 1..65536"),
    ("[node]\nspeed = 3", "node.speed: unknown key"),
    ("[node]\ncommand = []", "node.command: must not be empty"),
    ("[node]\ncommand = [1]", "node.command: must be a list of strings"),
    ('[node]\ncommand = ["{nmae}"]', r"node.command: unknown placeholder \{nmae\}"),
    ('[node]\ncommand = ["{peer_http}"]', r"node.command: unknown placeholder \{peer_http\}"),
    ('[node]\ncommand = ["{admin_port}"]', r"unknown placeholder \{admin_port\}"),
    ('[node]\nports = ["HTTP"]', "node.ports: 'HTTP' must be a short lower case word"),
    ('[node]\nports = ["http", "http"]', "node.ports: a port is named twice"),
    ("[node]\nenv = { A = 1 }", "node.env.A: must be a string"),
    ('[node]\nenv = { A = "{oops}" }', r"node.env.A: unknown placeholder \{oops\}"),
    ('[node]\ncwd = "{peer_name}"', r"node.cwd: unknown placeholder"),
    ('[node]\nshared_dir = "{http}"', r"node.shared_dir: unknown placeholder \{http\}"),
    ('[node]\nhttp = "{http}"', r"node.http: unknown placeholder \{http\}"),
    ('[node]\nper_node_address = "yes"', "node.per_node_address: must be true or false"),
    ('[node]\nstop_signal = "SIGFOO"', "node.stop_signal: 'SIGFOO' is not one of"),
    ("[node]\nstop_timeout_s = -1", "node.stop_timeout_s: must be a number of seconds"),
    ("[node]\nready = {}", "node.ready: give exactly one of http_get"),
    ('[node]\nready = { http_get = "/a", tcp = "http" }', "node.ready: give exactly one of"),
    ('[node]\nready = { http_get = "status" }', "node.ready.http_get: must be a path"),
    ('[node]\nready = { tcp = "admin" }', "node.ready: port 'admin' is not in node.ports"),
    ('[node]\nready = { http_get = "/", wait = 1 }', "node.ready.wait: unknown key"),
    ("[node]\nready = { http_get = '/', timeout_s = 0 }", "node.ready.timeout_s: must be a"),
    ("[node]\njoin = { how = 1 }", "node.join.how: unknown key"),
    ('[node]\njoin = { args = ["--peer", "{peer_url}"] }', r"unknown placeholder \{peer_url\}"),
    ('[node]\njoin = { args = ["x", "{peer_http}"], peers = "all" }', "node.join.peers: 'all'"),
    ('[node]\njoin = { after_start = { path = "login" } }', "after_start.path: must start with"),
    ("[node]\njoin = { after_start = { method = 'POST' } }", "node.join.after_start.path: missing"),
    (
        "[node]\njoin = { after_start = { path = '/l', method = 'DELETE' } }",
        "node.join.after_start.method: 'DELETE' is not one of",
    ),
    ("[node]\njoin = { after_start = { path = '/l', on = 'all' } }", "after_start.on: 'all'"),
    ("[node]\njoin = { after_start = { path = '/l', x = 1 } }", "node.join.after_start.x: unknown"),
    ("[node]\njoin = { after_start = { path = '/{me}' } }", r"unknown placeholder \{me\}"),
    ("[[node.files]]\npath = '{data_dir}/a'", r"node.files\[0\].template: missing"),
    ("[[node.files]]\npath = 'a'\ntemplate = 'b'\nmode = 1", r"node.files\[0\].mode: unknown key"),
    ("[[node.files]]\npath = '{data_dir}/a'\ntemplate = '{x}'", r"files\[0\].template: unknown"),
    ("[[node.files]]\npath = '/etc/a'\ntemplate = ''", r"files\[0\].path: must be '\{data_dir"),
    ("[[node.files]]\npath = '{data_dir}/../a'\ntemplate = ''", r"without '..'"),
    ('hints = "gevent"', "hints: must be a table"),
    ('hints = { gevent_hub = "x" }', "hints.gevent_hub: unknown key; expected one of cpu_bound"),
    ("hints = { latency_grows = 1 }", "hints.latency_grows: must be a non-empty string"),
    ('hints = { cpu_bound = " " }', "hints.cpu_bound: must be a non-empty string"),
    (f'hints = {{ cpu_bound = "{"x" * 301}" }}', "hints.cpu_bound: at most 300 characters"),
]


@pytest.mark.parametrize(("change", "message"), BAD, ids=[b[1][:40] for b in BAD])
def test_every_mistake_is_one_line_naming_the_key(tmp_path, change, message):
    text = _apply(MINIMAL, change)
    with pytest.raises(ValueError, match=message) as caught:
        load_text(text, tmp_path)
    assert "\n" not in str(caught.value)
    assert str(caught.value).startswith(str(tmp_path / "net.toml"))


def _apply(base: str, change: str) -> str:
    """Override top-level or [node] keys of ``base`` with the TOML in ``change``."""
    import tomllib

    data = tomllib.loads(base)
    extra = tomllib.loads(change)
    if "node" in extra:
        node = extra.pop("node")
        data["node"].update(node)
        if "join" in node and "args" not in node["join"]:
            data["node"]["command"] = [c for c in data["node"]["command"] if c != "{bootstrap}"]
        if "command" in node and "join" not in node:
            data["node"].pop("join")
    data.update(extra)
    return _dump(data)


def _dump(data: dict) -> str:
    """Tiny TOML writer for these tests' shapes (tables of scalars, lists, inline tables)."""
    import json

    def value(v):
        if isinstance(v, dict):
            return "{ " + ", ".join(f"{k} = {value(x)}" for k, x in v.items()) + " }"
        if isinstance(v, list):
            return "[" + ", ".join(value(x) for x in v) + "]"
        if isinstance(v, bool):
            return "true" if v else "false"
        return json.dumps(v)

    lines = [f"{k} = {value(v)}" for k, v in data.items() if k != "node"]
    lines.append("[node]")
    files = data["node"].get("files", [])
    lines += [f"{k} = {value(v)}" for k, v in data["node"].items() if k != "files"]
    for f in files:
        lines.append("[[node.files]]")
        lines += [f"{k} = {value(v)}" for k, v in f.items()]
    return "\n".join(lines) + "\n"


def test_bootstrap_and_join_args_go_together(tmp_path):
    with pytest.raises(ValueError, match="node.command: '{bootstrap}' needs node.join.args"):
        load_text(MINIMAL.replace('join = { args = ["--peer", "{peer_http}"] }', ""), tmp_path)
    with pytest.raises(ValueError, match="node.join.args: node.command has no '{bootstrap}'"):
        load_text(MINIMAL.replace(', "{bootstrap}"', ""), tmp_path)


def test_missing_keys_and_bad_specs(tmp_path):
    with pytest.raises(ValueError, match=r"net.toml: node: missing$"):
        load_text('name = "x"\nadapter = "networks.adapter:Adapter"\n', tmp_path)
    with pytest.raises(ValueError, match="no such file"):
        load_network(str(tmp_path / "absent.toml"))
    with pytest.raises(ValueError, match="not a shipped network"):
        load_network("nonesuch")
    (tmp_path / "broken.toml").write_text("name = ")
    with pytest.raises(ValueError, match="broken.toml: "):
        load_network(str(tmp_path / "broken.toml"))


def test_a_file_outside_the_data_dir_is_refused_when_rendered(tmp_path):
    """Parsing refuses such paths; rendering checks again (the last line of defence)."""
    from dataclasses import replace

    from networks.definition import FileTemplate

    d = load_text(MINIMAL, tmp_path)
    d = replace(d, node=replace(d.node, files=(FileTemplate("{data_dir}/../escape", "x"),)))
    values = d.node_values(RUN, {**node(), "http_port": 1, "grpc_port": 2})
    with pytest.raises(ValueError, match=r"node.files\[0\].path: .* is outside"):
        d.files(values)


def test_parse_accepts_a_dict():
    import tomllib

    d = parse(tomllib.loads(MINIMAL), spec="x", here=HERE, source="x")
    assert d.name == "mini" and d.node.join_args == ("--peer", "{peer_http}")


def test_hints_are_optional_and_ours_name_our_implementation(tmp_path):
    assert load_text(MINIMAL, tmp_path).hints == {}
    builtin = load_network("builtin").hints
    assert "gevent hub" in builtin["latency_grows"] and "SQLite" in builtin["latency_grows"]
    text = MINIMAL.replace("[node]", 'hints = { cpu_bound = """the  hashing\n  loop""" }\n[node]')
    assert load_text(text, tmp_path).hints == {"cpu_bound": "the hashing loop"}


def test_the_example_network_definition_loads():
    pytest.importorskip("aiohttp", reason="the examples extra (pip install -e .[examples])")
    d = load_network(str(HERE.parent / "examples" / "tinyp2p" / "network.toml"))
    assert d.name == "tinyp2p" and d.adapter_class.__name__ == "TinyAdapter"
    assert d.cwd(d.node_values(RUN, {**node(), "http_port": 1, "grpc_port": 2})) == HERE.parent


def _pythonpath(folder: Path) -> str:
    """The launcher's own PYTHONPATH, then the definition's folder."""
    import os

    return os.pathsep.join(p for p in (os.environ.get("PYTHONPATH", ""), str(folder)) if p)


ADAPTER_BESIDE = """
import networks.adapter as pl

class XAdapter(pl.Adapter):
    name = "x"

class XPeersAdapter(XAdapter):
    capabilities = frozenset({pl.MEMBERS})
"""


def test_an_adapter_beside_the_definition_imports_by_module_or_file(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "path", list(sys.path))  # the folder is appended for this test only
    (tmp_path / "x_beside.py").write_text(ADAPTER_BESIDE)
    by_module = load_text(
        MINIMAL.replace("networks.adapter:Adapter", "x_beside:XAdapter"), tmp_path
    )
    assert by_module.adapter_class.__name__ == "XAdapter"
    assert sys.path[-1] == str(tmp_path)  # after everything: node.py there never shadows ours
    values = by_module.node_values(RUN, {**node(), "http_port": 1, "grpc_port": 2})
    assert by_module.env(values)["PYTHONPATH"].split(os.pathsep)[-1] == str(tmp_path)

    sub = tmp_path / "impl"
    sub.mkdir()
    (sub / "x_file_adapter.py").write_text(ADAPTER_BESIDE)
    spec = "impl/x_file_adapter.py:XPeersAdapter"
    by_file = load_text(MINIMAL.replace("networks.adapter:Adapter", spec), tmp_path)
    assert by_file.adapter_class.capabilities == {"members"}
    monkeypatch.delitem(sys.modules, "x_file_adapter")
    monkeypatch.delitem(sys.modules, "x_beside")


@pytest.mark.parametrize(
    ("adapter", "message"),
    [
        ("x_nowhere:X", r"cannot import x_nowhere \(searched .*\): No module named 'x_nowhere'"),
        ("absent.py:X", r"no such file .*absent.py"),
        ("raises.py:X", r"importing raises.py failed: ZeroDivisionError"),
    ],
)
def test_an_adapter_that_does_not_import_is_one_line(tmp_path, monkeypatch, adapter, message):
    monkeypatch.setattr(sys, "path", list(sys.path))
    (tmp_path / "raises.py").write_text("1 / 0\n")
    with pytest.raises(ValueError, match=message) as caught:
        load_text(MINIMAL.replace("networks.adapter:Adapter", adapter), tmp_path)
    assert "\n" not in str(caught.value)


def test_module_class_is_honoured_when_the_module_names_a_definition_file(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "path", [*sys.path, str(tmp_path)])
    (tmp_path / "net.toml").write_text(
        MINIMAL.replace("networks.adapter:Adapter", "x_two:XAdapter")
    )
    (tmp_path / "x_two.py").write_text(
        ADAPTER_BESIDE + 'DEFINITION = __import__("pathlib").Path("net.toml")\n'
    )
    try:
        assert load_network("x_two:XPeersAdapter").adapter_class.__name__ == "XPeersAdapter"
        assert load_network("x_two:XAdapter").adapter_class.__name__ == "XAdapter"
    finally:
        sys.modules.pop("x_two", None)


def test_env_placeholders_and_paths_beside_the_definition(tmp_path, monkeypatch):
    monkeypatch.setenv("XNET_VENV", "/opt/xnet/.venv")
    text = MINIMAL.replace('"run"', '"{env:XNET_VENV}/bin/python", "{here}/server.py"')
    d = load_text(text, tmp_path)
    values = d.node_values(RUN, {**node(), "http_port": 1, "grpc_port": 2})
    assert d.command(values, [])[:2] == ["/opt/xnet/.venv/bin/python", f"{tmp_path}/server.py"]
    monkeypatch.delenv("XNET_VENV")
    with pytest.raises(
        ValueError, match=r"node.command: \{env:XNET_VENV\}: environment variable not set$"
    ):
        load_text(text, tmp_path)


def test_an_env_placeholder_with_a_default_uses_it_when_unset_or_empty(tmp_path, monkeypatch):
    for variable in ("XNET_PYTHON", "XNET_HOME"):
        monkeypatch.delenv(variable, raising=False)
    text = MINIMAL.replace('"run"', '"{env:XNET_PYTHON:-{python}}", "{env:XNET_HOME:-{here}/x}"')
    d = load_text(text, tmp_path)  # loads although neither variable is set
    values = d.node_values(RUN, {**node(), "http_port": 1, "grpc_port": 2})
    assert d.command(values, [])[:2] == [RUN["python"], f"{tmp_path}/x"]
    monkeypatch.setenv("XNET_PYTHON", "")
    assert d.command(values, [])[0] == RUN["python"]
    monkeypatch.setenv("XNET_PYTHON", "/opt/xnet/.venv/bin/python")
    assert d.command(values, [])[0] == "/opt/xnet/.venv/bin/python"
    with pytest.raises(ValueError, match=r"node.command: unknown placeholder \{pyhton\}$"):
        load_text(MINIMAL.replace('"run"', '"{env:XNET_PYTHON:-{pyhton}}"'), tmp_path)


def test_after_start_calls_on_the_node_itself(tmp_path):
    text = MINIMAL.replace(
        "[node]",
        '[node]\nafter_start = [{ method = "POST", path = "/indexar?n={name}" }, '
        '{ path = "/warm", body = \'{"host": "{host}"}\', port = "grpc" }]',
    )
    d = load_text(text, tmp_path)
    values = d.node_values(RUN, {**node(2), "http_port": 5, "grpc_port": 6})
    assert d.self_requests(values) == [
        ("POST", "http://127.0.0.1:5/indexar?n=n2", ""),
        ("POST", "http://127.0.0.1:6/warm", '{"host": "127.0.0.1"}'),
    ]
    for bad, message in [
        ('after_start = [{ path = "/x", on = "peer" }]', r"node.after_start\[0\].on: unknown key"),
        ('after_start = [{ path = "x" }]', r"node.after_start\[0\].path: must start with /"),
        ('after_start = [{ path = "/{peer_http}" }]', r"unknown placeholder \{peer_http\}"),
        ('after_start = ["/x"]', r"node.after_start\[0\]: must be a table"),
    ]:
        with pytest.raises(ValueError, match=message):
            load_text(MINIMAL.replace("[node]", "[node]\n" + bad), tmp_path)


def test_an_adapter_says_how_its_network_matches_counts_hops_and_fails_and_bad_rules_are_refused(
    tmp_path, monkeypatch
):
    from networks.adapter import Adapter

    module = types.ModuleType("fuzzy_net_mod")
    module.__file__ = str(tmp_path / "fuzzy_net_mod.py")

    class Fuzzy(Adapter):
        name = "fuzzy"
        match = "fuzzy"

    Fuzzy.__module__ = "fuzzy_net_mod"
    module.Fuzzy = Fuzzy
    module.DEFINITION = MINIMAL.replace('adapter = "networks.adapter:Adapter"\n', "")
    monkeypatch.setitem(sys.modules, "fuzzy_net_mod", module)
    with pytest.raises(ValueError, match="match = 'fuzzy': expected one of substring, exact"):
        load_network("fuzzy_net_mod:Fuzzy")
    Fuzzy.match = "prefix"
    assert load_network("fuzzy_net_mod:Fuzzy").adapter_class.match == "prefix"
    Fuzzy.hops = "ttl_left"
    with pytest.raises(ValueError, match="hops = 'ttl_left': expected one of path, fewest"):
        load_network("fuzzy_net_mod:Fuzzy")
    Fuzzy.hops = "path"
    for wrong in ({"search": {200}}, {"searches": {400}}, {"download": ["NOT_FOUND"]}):
        Fuzzy.statuses = wrong
        with pytest.raises(ValueError, match="statuses = .*expected a dict of operations"):
            load_network("fuzzy_net_mod:Fuzzy")
    Fuzzy.statuses = {"search": {400, 503}, "download": {"NOT_FOUND"}}
    assert load_network("fuzzy_net_mod:Fuzzy").adapter_class.statuses["search"] == {400, 503}

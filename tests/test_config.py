"""Config loading: files, env vars, and one clear error per broken config."""

from __future__ import annotations

from pathlib import Path

import pytest
from langchain_core.runnables import RunnableLambda

from lclog import ConfigError, LoggingCallbackHandler, load_config
from tests.loopback import LoopbackServer

CONFIG_DIR = Path(__file__).resolve().parent.parent / "config"


def test_defaults_are_safe():
    s = load_config()
    assert s.redaction.enabled and s.content == "redacted" and s.outputs[0].type == "stdout"


@pytest.mark.parametrize("path", sorted(CONFIG_DIR.glob("*.y*ml")) + sorted(CONFIG_DIR.glob("*.toml")))
def test_every_example_config_loads_and_builds_a_handler(path, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # file outputs land in a temp dir
    monkeypatch.setenv("SLACK_WEBHOOK_URL", "http://127.0.0.1:9/never-called")
    monkeypatch.setenv("LCLOG_HASH_KEY", "example-secret")  # what config/elk.yaml asks for
    collector = LoopbackServer("/")  # config/otlp.yaml's collector
    monkeypatch.setenv("OTEL_COLLECTOR_URL", collector.url)
    settings = load_config(path)
    with LoggingCallbackHandler(settings) as handler:
        RunnableLambda(lambda x: x).invoke("mail bob@corp.io", config={"callbacks": [handler]})
    assert handler.stats.emitted == 2
    assert handler.stats.dropped == handler.stats.output_errors == handler.stats.internal_errors == 0
    collector.close()
    if any(output.type == "otlp" for output in settings.outputs):
        assert len(collector.requests) == 1
    for output in settings.outputs:
        if output.type == "file":
            lines = (tmp_path / output.path).read_text().splitlines()
            assert len(lines) == 2 and "bob@corp.io" not in lines[0]


def test_toml_and_pyproject_tool_table(tmp_path):
    (tmp_path / "lclog.toml").write_text('service = "svc"\n[redaction]\nmode = "hash"\n')
    assert load_config(tmp_path / "lclog.toml").redaction.mode == "hash"
    (tmp_path / "pyproject.toml").write_text('[tool.lclog]\nservice = "from-pyproject"\n')
    assert load_config(tmp_path / "pyproject.toml").service == "from-pyproject"


def test_env_overrides_and_config_env(tmp_path, monkeypatch):
    path = tmp_path / "c.yaml"
    path.write_text("service: file\nmax_field_chars: 500\n")
    monkeypatch.setenv("LCLOG_CONFIG", str(path))
    monkeypatch.setenv("LCLOG_SERVICE", "from-env")
    s = load_config()
    assert (s.service, s.max_field_chars) == ("from-env", 500)
    assert load_config(service="kw").service == "kw"


def test_env_var_expansion(tmp_path, monkeypatch):
    path = tmp_path / "c.yaml"
    path.write_text("service: ${SVC_NAME}\n")
    monkeypatch.setenv("SVC_NAME", "expanded")
    assert load_config(path).service == "expanded"
    monkeypatch.delenv("SVC_NAME")
    with pytest.raises(ConfigError, match=r"service: env var SVC_NAME is not set \(export SVC_NAME="):
        load_config(path)


@pytest.mark.parametrize(
    ("yaml_text", "message"),
    [
        ("servce: x\n", "servce: is not a key lclog knows (did you mean `service`?)"),
        ("content: full\n", "content: must be one of 'redacted' or 'none'"),
        ("max_field_chars: lots\n", "max_field_chars: Input should be a valid integer"),
        ("max_field_chars: 1\n", "max_field_chars: must be at least 64"),
        ("outputs:\n  - type: file\n", "outputs.0: a file output needs a path"),
        (
            "outputs:\n  - type: kafka\n",
            "outputs.0.type: must be one of 'stdout', 'stderr', 'file', 'stdlib', 'structlog', "
            "'loki' or 'otlp'",
        ),
        (
            "outputs:\n  - {type: file, path: x, labels: {a: b}}\n",
            "outputs.0: labels does not apply to a file output",
        ),
        ("outputs:\n  - {type: loki}\n", "outputs.0: a loki output needs `url:"),
        (
            "outputs:\n  - {type: loki, url: 'http://l:3100/loki/api/v1/push', labels: {run_id: x}}\n",
            "labels: 'run_id' changes with every event",
        ),
        (
            "outputs:\n  - {type: loki, url: 'http://l:3100/loki/api/v1/push', labels: {a-b: x}}\n",
            "labels: 'a-b' is not a Loki label name",
        ),
        (
            "outputs:\n  - {type: loki, url: 'http://l/x', headers: {X-Token: '${NO_SUCH_TOKEN_VAR}'}}\n",
            "outputs.0.headers.X-Token: env var NO_SUCH_TOKEN_VAR is not set",
        ),
        ("schema: splunk\n", "schema: must be one of 'default', 'ecs' or 'otel'"),
        ("redaction:\n  mode: scramble\n", "redaction.mode: must be one of 'mask', 'hash', 'partial'"),
        ("processors: [not a path]\n", "processors: 'not a path' is not an import path"),
        ("processors: ['nonexistent_mod:fn']\n", "processors: cannot import 'nonexistent_mod:fn'"),
        ("- a\n- b\n", "must be a mapping of keys, got list"),
        ("notify:\n  targets: [{type: pager}]\n", "notify.targets.0: unknown type 'pager': use one of"),
        (
            "notify:\n  targets: [{type: webhook, url: ftp://x}]\n",
            "notify.targets.0.webhook.url: must match ^https?:// (an http:// or https:// URL)",
        ),
        (
            "notify:\n  targets: [{type: callable, target: 'nope_mod:f'}]\n",
            "notify.targets.0.target: cannot import",
        ),
        ("service: [unclosed\n", "is not valid YAML"),
    ],
)
def test_broken_configs_name_the_field_and_the_fix(tmp_path, yaml_text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml_text)
    with pytest.raises(ConfigError) as info:
        LoggingCallbackHandler(path)
    assert message in str(info.value)
    assert str(path) in str(info.value) or "processors" in str(info.value)


def test_missing_file():
    with pytest.raises(ConfigError, match="cannot read lclog config"):
        load_config("/nonexistent/lclog.yaml")


def test_overrides_on_loaded_settings_are_validated_too():
    settings = load_config({"service": "a"})
    assert load_config(settings, content="none").content == "none"
    assert load_config(settings, content="none").service == "a"
    with pytest.raises(ConfigError, match="content: must be one of 'redacted' or 'none'"):
        LoggingCallbackHandler(settings, content="everything")


def test_a_bad_env_var_is_named_in_the_error(monkeypatch):
    monkeypatch.setenv("LCLOG_LEVEL", "verbose")
    with pytest.raises(ConfigError) as info:
        load_config()
    assert "level (from the env var LCLOG_LEVEL): must be one of 'debug'" in str(info.value)
    monkeypatch.delenv("LCLOG_LEVEL")
    with pytest.raises(ConfigError) as info:
        load_config({"level": "verbose"})  # from the config itself: no env var to blame
    assert "env var" not in str(info.value)


def test_every_key_is_in_the_default_config_and_the_readme():
    """config/default.yaml and the configuration page's table list every top-level key a config may set."""
    from lclog.settings import Settings

    default = (CONFIG_DIR / "default.yaml").read_text()
    readme = (CONFIG_DIR.parent / "docs" / "configuration.md").read_text()
    for name, field in Settings.model_fields.items():
        key = field.alias or name
        assert f"\n{key}:" in default, f"{key} missing from config/default.yaml"
        assert f"`{key}`" in readme, f"{key} missing from docs/configuration.md"

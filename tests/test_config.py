import pytest

from gateway.config import load_settings
from gateway.errors import ConfigError


def test_defaults_listen_on_loopback_8080():
    s = load_settings(environ={})
    assert (s.server.host, s.server.port) == ("127.0.0.1", 8080)
    assert s.speech.asr_model == "auto" and s.store.path.endswith(".sqlite3")


def test_file_then_environment(tmp_path):
    f = tmp_path / "gateway.toml"
    f.write_text('[server]\nport = 9000\n[speech]\nasr_model = "base"\nend_silence_ms = 500\n')
    s = load_settings(str(f), environ={"GATEWAY_SERVER__PORT": "9100"})
    assert s.server.port == 9100 and s.speech.asr_model == "base" and s.speech.end_silence_ms == 500


@pytest.mark.parametrize("env,message", [
    ({"GATEWAY_SERVER__PORT": "eighty"}, "server.port must be int"),
    ({"GATEWAY_SERVER__PORT": "70000"}, "server.port must be 1..65535"),
    ({"GATEWAY_SPEECH__ASR_MODEL": "large"}, "speech.asr_model must be one of"),
    ({"GATEWAY_SPEECH__COLOUR": "red"}, "unknown setting speech.colour"),
    ({"GATEWAY_WARP__SPEED": "9"}, "unknown settings section [warp]"),
    ({"GATEWAY_SPEECH__END_INCOMPLETE_MS": "200"}, "speech.end_incomplete_ms"),
    ({"GATEWAY_CORE__BACKEND": "gpt"}, "core.backend must be one of"),
    ({"GATEWAY_SPEECH__SKIP_MID_SENTENCE_LANGUAGES": '["en","zh"]'}, "speech.skip_mid_sentence_languages"),
    ({"GATEWAY_SPEECH__ASR_WORKERS": "0"}, "speech.asr_workers must be 1..16"),
    ({"GATEWAY_SERVER__BLAS_THREADS": "-1"}, "server.blas_threads must be 0..256"),
])
def test_bad_values_are_named(env, message):
    with pytest.raises(ConfigError) as info:
        load_settings(environ=env)
    assert message in str(info.value)


def test_bad_file(tmp_path):
    f = tmp_path / "bad.toml"
    f.write_text("[server\nport=1")
    with pytest.raises(ConfigError, match=r"bad\.toml"):
        load_settings(str(f), environ={})
    with pytest.raises(ConfigError, match="not found"):
        load_settings(str(tmp_path / "missing.toml"), environ={})

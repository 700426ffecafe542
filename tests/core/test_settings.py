from __future__ import annotations

import pytest

from gateway.core.settings import CoreSettings
from gateway.errors import ConfigError


def test_defaults_are_valid_and_point_at_the_bundled_kb() -> None:
    settings = CoreSettings().validate()
    assert settings.backend == "grounded" and (settings.kb_folder() / "en" / "returns.md").is_file()


@pytest.mark.parametrize(("field", "value", "message"), [
    ("backend", "gpt", "core.backend"), ("min_score", 1.5, "core.min_score"),
    ("llm_first_token_s", 9.0, "core.llm_first_token_s"), ("kb_path", "/nonexistent/kb", "core.kb_path"),
    ("db_path", "", "core.db_path"), ("window_turns", 1, "core.window_turns"),
])
def test_invalid_settings_name_the_field(field: str, value: object, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        CoreSettings(**{field: value}).validate()  # type: ignore[arg-type]
    assert message in str(info.value) and info.value.code == "config-invalid"


def test_openai_backend_needs_a_url() -> None:
    with pytest.raises(ConfigError, match="openai_url"):
        CoreSettings(backend="openai", openai_url="ftp://x").validate()

"""Apps made in one process share their compiled templates (``web.app``), and an edited
template is compiled again."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader

from web import create_app


def _app(tmp_path: Path, name: str) -> Any:
    return create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test secret key, not for production",
            "INSTANCE_PATH": str(tmp_path / name),
            "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite'}",
            "AUTO_UPGRADE_DB": False,
        }
    )


def _never_compile(*_args: Any, **_kwargs: Any) -> Any:
    raise AssertionError("the template was compiled again")


def test_two_apps_share_compiled_templates_and_an_edit_is_compiled_again(
    tmp_path: Path,
) -> None:
    first, second = _app(tmp_path, "one"), _app(tmp_path, "two")
    cache = first.jinja_env.bytecode_cache
    assert cache is not None and cache is second.jinja_env.bytecode_cache

    folder = tmp_path / "templates"
    folder.mkdir()
    (folder / "hello.html").write_text("Hello {{ name }}")
    one = Environment(loader=FileSystemLoader(folder), bytecode_cache=cache)
    assert one.get_template("hello.html").render(name="Ada") == "Hello Ada"

    # Another environment on the same cache uses the code compiled by the first.
    two = Environment(loader=FileSystemLoader(folder), bytecode_cache=cache)
    two.compile = _never_compile  # type: ignore[method-assign]
    assert two.get_template("hello.html").render(name="Bo") == "Hello Bo"

    # An edited template does not match the stored checksum, so it is compiled afresh.
    (folder / "hello.html").write_text("Goodbye {{ name }}")
    three = Environment(loader=FileSystemLoader(folder), bytecode_cache=cache)
    assert three.get_template("hello.html").render(name="Cy") == "Goodbye Cy"
    four = Environment(loader=FileSystemLoader(folder), bytecode_cache=cache)
    four.compile = _never_compile  # type: ignore[method-assign]
    assert four.get_template("hello.html").render(name="Di") == "Goodbye Di"

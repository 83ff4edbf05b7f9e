"""esb.handler_check: the handler is found statically (no import) and the code compiles."""

from __future__ import annotations

from pathlib import Path

import pytest

from esb.errors import BuildError
from esb.build.handler_check import check_python


def _check(root: Path, handler: str) -> None:
    check_python([root], handler)


@pytest.mark.parametrize("source", [
    "def handler(event, context):\n    return 1\n",
    "async def handler(event, context):\n    return 1\n",
    "from impl import real as handler\n",
    "class handler:\n    pass\n",
    "handler = make()\n",
    "try:\n    from fast import handler\nexcept ImportError:\n    def handler(e, c):\n        return 0\n",
    "from impl import *\n",  # may bind anything: accepted
    "def __getattr__(name):\n    return None\n",
])
def test_defined_handlers_pass(tmp_path: Path, source: str) -> None:
    (tmp_path / "app.py").write_text(source)
    _check(tmp_path, "app.handler")


def test_package_module_and_dotted_path(tmp_path: Path) -> None:
    (tmp_path / "pkg" / "sub").mkdir(parents=True)
    (tmp_path / "pkg" / "sub" / "__init__.py").write_text("def run(e, c):\n    return 0\n")
    _check(tmp_path, "pkg.sub.run")


def test_handler_typo_names_file_and_handler(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text("def handler(event, context):\n    return 1\n")
    with pytest.raises(BuildError) as caught:
        _check(tmp_path, "app.handlr")
    assert str(tmp_path / "app.py") in str(caught.value) and "'handlr'" in str(caught.value)


def test_missing_module_file(tmp_path: Path) -> None:
    with pytest.raises(BuildError, match=r"module file .*aap\.py does not exist"):
        _check(tmp_path, "aap.handler")


def test_handler_without_module(tmp_path: Path) -> None:
    with pytest.raises(BuildError, match="module.function"):
        _check(tmp_path, "handler")


def test_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text("def handler(event, context):\n    return (\n")
    with pytest.raises(BuildError) as caught:
        _check(tmp_path, "app.handler")
    assert caught.value.where == f"{tmp_path / 'app.py'}:2"

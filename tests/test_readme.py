"""The README's two commands are the ones CI runs and the ones a fresh machine needs."""

from __future__ import annotations

import re

from esb.paths import REPO


def _bash_blocks(text: str) -> list[str]:
    return [block.strip() for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S)]


def test_ci_runs_exactly_the_readme_test_command() -> None:
    blocks = _bash_blocks((REPO / "README.md").read_text(encoding="utf-8"))
    install_and_up, tests = blocks[0], blocks[1]
    assert install_and_up.endswith("esb up") and "pip install -e ." in install_and_up
    ci_lines = [line for line in (REPO / ".ci" / "run").read_text(encoding="utf-8").splitlines()
                if line.strip() and not line.lstrip().startswith("#")]
    assert ci_lines[-1] == tests

"""No dead code in the toolchain or the runtime: vulture over the code and its tests, with a whitelist of names
that frameworks call (tests/dead_code_whitelist.py)."""

from __future__ import annotations

import subprocess
import sys

from esb.paths import REPO

CODE = ("esb", "runtime/esb_runtime")


def test_vulture_finds_no_unused_code_in_esb_or_the_runtime() -> None:
    scanned = [*CODE, "tests", "bench", "dodo.py"]  # what tests and benches use is used
    # doit finds task creators by their task_ prefix; the CLI and doit find box commands as <name>_command.
    result = subprocess.run([sys.executable, "-m", "vulture", *scanned, "--min-confidence", "60",
                             "--ignore-names", "task_*,*_command"],
                            cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode in (0, 3), result.stderr  # 3: vulture found dead code (reported below)
    findings = [line for line in result.stdout.splitlines() if line.startswith(CODE)]
    assert findings == [], "dead code (remove it, or whitelist a name a framework calls):\n" + "\n".join(findings)

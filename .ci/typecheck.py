"""Static type check of rqi_loss/ with mypy (settings in setup.cfg's [mypy]): no new errors allowed.

    python .ci/typecheck.py            # exit 1 when mypy reports an error that is not in the baseline
    python .ci/typecheck.py --update   # rewrite the baseline (after fixing errors, to lock the gain in)

The baseline (.ci/mypy-baseline.txt) holds the errors the code had when the check was introduced, without line
numbers (so moving code does not count as new): most come from nn.Module attributes, which mypy types as
``Tensor | Module``. An error that is gone is reported, so the baseline can shrink.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / ".ci" / "mypy-baseline.txt"
ERROR = re.compile(r"^(?P<file>[^:]+):\d+: error: (?P<message>.*)$")


def current_errors() -> Counter:
    """mypy's errors on rqi_loss/ as 'file: message [code]' lines, counted."""
    run = subprocess.run(
        [sys.executable, "-m", "mypy", "rqi_loss", "--no-error-summary", "--show-error-codes"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    if run.returncode not in (0, 1) or "error: " in run.stderr:
        raise SystemExit(f"mypy could not run (exit {run.returncode}):\n{run.stderr}{run.stdout}")
    found = (ERROR.match(line) for line in run.stdout.splitlines())
    return Counter(f"{match['file']}: {match['message']}" for match in found if match)


def main() -> int:
    errors = current_errors()
    if sys.argv[1:] == ["--update"]:
        BASELINE.write_text("".join(f"{line}\n" for line in sorted(errors.elements())))
        print(f"wrote {BASELINE.relative_to(ROOT)}: {sum(errors.values())} errors")
        return 0
    baseline = Counter(BASELINE.read_text().splitlines()) if BASELINE.exists() else Counter()
    new, fixed = errors - baseline, baseline - errors
    for line in sorted(fixed.elements()):
        print(f"fixed (remove it from the baseline with --update): {line}")
    for line in sorted(new.elements()):
        print(f"new type error: {line}")
    print(f"mypy: {sum(errors.values())} errors, {sum(new.values())} new, {sum(fixed.values())} fixed")
    return 1 if new else 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Where the contract's conformance examples live: ``../shared/spec/examples`` beside the repo.

CI and every developer machine have ``../shared``; a missing folder is an error, not a skip.
"""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
SPEC_EXAMPLES = (REPO_ROOT / ".." / "shared" / "spec" / "examples").resolve()


def example_event_files() -> list[Path]:
    """Every ``*.events.jsonl`` of the examples, sorted; raises when there are none."""
    if not SPEC_EXAMPLES.is_dir():
        raise RuntimeError(f"the spec examples folder is missing: {SPEC_EXAMPLES}")
    found = sorted(SPEC_EXAMPLES.glob("*.events.jsonl"))
    if not found:
        raise RuntimeError(f"no *.events.jsonl in {SPEC_EXAMPLES}")
    return found

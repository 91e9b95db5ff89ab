"""What a conversion found: errors (fatal, collected), warnings (kept but odd), skipped inputs, counts."""
import logging
from collections import Counter
from typing import Dict, List, Sequence

logger = logging.getLogger(__name__)

MAX_LISTED = 20


class ConversionError(ValueError):
    """The input cannot be converted; the message names every offending file and what is wrong."""

    def __init__(self, problems: Sequence[str]):
        self.problems = list(problems)
        super().__init__(f"{len(self.problems)} problem(s):\n" + _bullets(self.problems))


def _bullets(items: Sequence[str]) -> str:
    lines = [f"  - {item}" for item in items[:MAX_LISTED]]
    if len(items) > MAX_LISTED:
        lines.append(f"  ... and {len(items) - MAX_LISTED} more")
    return "\n".join(lines)


class ConversionReport:
    """Collects everything a converter decided about its input, for the summary printed at the end."""

    def __init__(self, dataset: str):
        self.dataset = dataset
        self.errors: List[str] = []
        self.warnings: List[str] = []
        self.skipped: Dict[str, List[str]] = {}
        self.counts: Counter = Counter()
        self.notes: List[str] = []

    def error(self, message: str) -> None:
        """Record a fatal problem; :meth:`raise_if_errors` raises them all at once."""
        self.errors.append(message)

    def warn(self, message: str) -> None:
        """Record (and log) something that was kept or changed but deserves a look."""
        logger.warning(message)
        self.warnings.append(message)

    def skip(self, reason: str, item: str) -> None:
        """Record an input that is not written to any output, grouped by reason."""
        self.skipped.setdefault(reason, []).append(item)

    def count(self, key: str, n: int = 1) -> None:
        self.counts[key] += n

    def note(self, message: str) -> None:
        """Record an informational line (e.g. which file was written with what)."""
        self.notes.append(message)

    def raise_if_errors(self) -> None:
        if self.errors:
            raise ConversionError(self.errors)

    def summary(self) -> str:
        """Human-readable account of the conversion: counts, warnings, and what was skipped and why."""
        lines = [f"{self.dataset} conversion summary:"]
        lines += [f"  {key}: {n}" for key, n in sorted(self.counts.items())]
        lines += [f"  {note}" for note in self.notes]
        if self.warnings:
            lines.append(f"{len(self.warnings)} warning(s):")
            lines.append(_bullets(self.warnings))
        for reason, items in sorted(self.skipped.items()):
            lines.append(f"skipped {len(items)} ({reason}):")
            lines.append(_bullets(items))
        if not self.warnings and not self.skipped:
            lines.append("  nothing skipped, no warnings")
        return "\n".join(lines)

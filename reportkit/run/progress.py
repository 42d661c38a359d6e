"""The terminal progress bar of a run (tqdm)."""

from __future__ import annotations

from reportkit.run.manifest import UnitResult


class ProgressBar:
    """The tqdm bar over every selected unit: cached units count as done from the start, and
    the bar keeps the failed and cached counts in view."""

    def __init__(self, total: int, cached: int, enabled: bool) -> None:
        from tqdm import tqdm

        self.failed, self.cached = 0, cached
        self._bar = tqdm(
            total=total,
            initial=cached,
            unit="单位",
            desc="生成报告",
            disable=not enabled,
            dynamic_ncols=True,
        )
        self._bar.set_postfix_str(self._counts())

    def _counts(self) -> str:
        return f"失败 {self.failed}，未变化 {self.cached}"

    def add(self, result: UnitResult) -> None:
        self.failed += result.status == "failed"
        self._bar.set_postfix_str(self._counts(), refresh=False)
        self._bar.update()

    def close(self) -> None:
        self._bar.close()

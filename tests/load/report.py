"""test-artifacts/load: figures.json and report.html (inline SVG plots) from the run's own samples."""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

from tests.load.client import Recorder

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "load"


def per_second(recorder: Recorder) -> dict[str, list[float]]:
    """Requests finished, p99 latency and errors in each second of the run."""
    if not recorder.samples:
        return {"t": [], "throughput": [], "p99": [], "errors": []}
    origin = min(sample.started for sample in recorder.samples)
    buckets: dict[int, list[Any]] = {}
    for sample in recorder.samples:
        buckets.setdefault(int(sample.started + sample.seconds - origin), []).append(sample)
    seconds = range(max(buckets) + 1)
    result: dict[str, list[float]] = {"t": [float(s) for s in seconds]}
    result.update(throughput=[], p99=[], errors=[])
    for second in seconds:
        samples = buckets.get(second, [])
        latencies = sorted(sample.seconds for sample in samples)
        result["throughput"].append(float(len(samples)))
        p99 = latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))] if latencies else 0.0
        result["p99"].append(p99)
        result["errors"].append(float(sum(1 for s in samples if s.status == 0 or s.status >= 500)))
    result["marks"] = [mark - origin for mark in recorder.marks.values()]
    return result


def _svg(title: str, xs: list[float], ys: list[float], marks: list[float]) -> str:
    width, height, pad = 480, 160, 30
    top = max([*ys, 1e-9])
    right = max([*xs, 1.0])

    def point(x: float, y: float) -> str:
        return f"{pad + x / right * (width - 2 * pad):.1f},{height - pad - y / top * (height - 2 * pad):.1f}"

    line = " ".join(point(x, y) for x, y in zip(xs, ys, strict=True))
    fault_lines = "".join(
        f'<line x1="{point(m, 0).split(",")[0]}" y1="{pad}" x2="{point(m, 0).split(",")[0]}" '
        f'y2="{height - pad}" stroke="red" stroke-dasharray="4"/>'
        for m in marks
    )
    return (
        f'<svg width="{width}" height="{height}" xmlns="http://www.w3.org/2000/svg">'
        f'<text x="{pad}" y="16" font-size="12">{html.escape(title)} (max {top:.3g})</text>'
        f'<polyline fill="none" stroke="steelblue" points="{line}"/>{fault_lines}</svg>'
    )


def write(results: dict[str, dict[str, Any]], series: dict[str, dict[str, list[float]]]) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "figures.json").write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    parts = ["<!doctype html><meta charset=utf-8><title>MedQA load report</title><h1>MedQA load report</h1>"]
    for name, figures in sorted(results.items()):
        parts.append(f"<h2>{html.escape(name)}</h2><pre>{html.escape(json.dumps(figures, indent=1))}</pre>")
        data = series.get(name)
        if data and data["t"]:
            plots = (("throughput", "requests/s"), ("p99", "p99 latency s"), ("errors", "errors/s"))
            for key, label in plots:
                parts.append(_svg(label, data["t"], data[key], data.get("marks", [])))
    path = ARTIFACTS / "report.html"
    path.write_text("\n".join(parts) + "\n")
    return path

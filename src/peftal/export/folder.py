"""An exported folder: what is in it, how to recognise one, and the run facts it carries."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

EXPORT_META = "export.json"
LABELS = "labels.json"


def require(*modules: str) -> None:
    """One line naming the optional extra when ``modules`` (onnx, onnxruntime) are not installed."""
    import importlib.util

    from peftal.errors import UsageError

    missing = [name for name in modules if importlib.util.find_spec(name) is None]
    if missing:
        raise UsageError(f"this needs {', '.join(missing)}: pip install 'peftal[export]' "
                         "(or pip install onnxruntime for an exported folder alone)")


def is_export(folder: Path) -> bool:
    """Whether ``folder`` is an exported model (``peftal export``) rather than a run or model folder."""
    return (folder / EXPORT_META).is_file()


def run_metrics(source: Path) -> dict[str, Any]:
    """The final metrics of the run in ``source`` (from its ``summary.json``) with the split they
    were measured on; empty for a bare model folder."""
    for candidate in (source / "summary.json", source.parent / "summary.json"):
        if candidate.is_file():
            summary = json.loads(candidate.read_text())
            rounds = summary.get("rounds") or []
            final = rounds[-1].get("metrics", {}) if rounds else summary.get("metrics", {})
            return {"split": summary.get("eval_split", "test"), "num_labeled":
                    rounds[-1].get("num_labeled") if rounds else None, **final}
    return {}


def portable_json(value: Any) -> Any:
    """``value`` (parsed JSON) with every string that is a path on this machine, such as a
    tokenizer's ``name_or_path``, reduced to its last part. Vocabulary entries such as ``"/"`` are
    not paths: a string must be absolute, have two parts at least, and exist."""
    if isinstance(value, dict):
        return {key: portable_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [portable_json(item) for item in value]
    if isinstance(value, str) and len(Path(value).parts) > 2 and Path(value).is_absolute() \
            and Path(value).exists():
        return Path(value).name
    return value

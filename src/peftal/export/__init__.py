"""Export a trained model for use without peftal: ONNX (fp32, optionally int8) with its tokenizer,
labels, model card and a standalone predictor (see docs/deploy.md)."""

from peftal.export.folder import is_export

__all__ = ["export_onnx", "is_export"]


def export_onnx(*args, **kwargs):  # noqa: ANN002, ANN003 - imported lazily: torch is heavy
    """See :func:`peftal.export.onnx.export_onnx`."""
    from peftal.export.onnx import export_onnx as _export

    return _export(*args, **kwargs)

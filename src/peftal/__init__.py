"""peftal: active learning with parameter-efficient fine-tuning, for scarce labels and compute."""

__version__ = "0.1.0"

__all__ = ["__version__"]

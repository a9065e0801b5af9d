"""Evaluation under the field's protocol, comparison reports and the out-of-the-box demo."""

from yoda_sr.evaluation.compare import ComparisonResult, compare_results
from yoda_sr.evaluation.evaluate import (
    EvalImage,
    EvaluationResult,
    config_hash,
    evaluate_pipeline,
    evaluate_run,
    load_eval_images,
    load_summary,
)

__all__ = [
    "ComparisonResult",
    "EvalImage",
    "EvaluationResult",
    "compare_results",
    "config_hash",
    "evaluate_pipeline",
    "evaluate_run",
    "load_eval_images",
    "load_summary",
]

"""Evaluation under the field's protocol, comparison reports and the out-of-the-box demo."""

from yoda_sr.evaluation.compare import ComparisonResult, compare_results
from yoda_sr.evaluation.evaluate import (
    EvalImage,
    EvaluationResult,
    ScoredImage,
    config_hash,
    evaluate_pipeline,
    evaluate_run,
    load_eval_images,
    load_summary,
    read_eval_images,
    score_images,
)

__all__ = [
    "ComparisonResult",
    "EvalImage",
    "EvaluationResult",
    "ScoredImage",
    "compare_results",
    "config_hash",
    "evaluate_pipeline",
    "evaluate_run",
    "load_eval_images",
    "load_summary",
    "read_eval_images",
    "score_images",
]

"""Evaluators; importing this package registers them."""

from nasforge.evaluators import lm, supernet, table, train
from nasforge.evaluators.base import OBJECTIVE, Evaluator, Result
from nasforge.evaluators.function import FunctionEvaluator

__all__ = ["OBJECTIVE", "Evaluator", "FunctionEvaluator", "Result", "lm", "supernet", "table",
           "train"]

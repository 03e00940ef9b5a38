"""A thin wrapper over HiGHS (``highspy``): one LP model, re-solved with new costs or bounds.

Every LP here has equality rows ``A @ z == rhs`` and column bounds. Building the model once
and changing only the objective or a bound lets HiGHS warm-start from the last basis, which
is what makes hundreds of attacker LPs on one table cheap.
"""

from __future__ import annotations

import highspy
import numpy as np
from scipy import sparse

INF = highspy.kHighsInf


class Model:
    """An LP ``A @ z == rhs, lower <= z <= upper`` held by one HiGHS instance."""

    def __init__(
        self,
        a: sparse.spmatrix,
        rhs: np.ndarray,
        lower: np.ndarray,
        upper: np.ndarray,
        cost: np.ndarray | None = None,
        solver: str = "simplex",
    ) -> None:
        csc = sparse.csc_matrix(a, dtype=np.float64)
        n_row, n_col = csc.shape
        lp = highspy.HighsLp()
        lp.num_col_ = n_col
        lp.num_row_ = n_row
        lp.col_cost_ = np.zeros(n_col) if cost is None else np.asarray(cost, np.float64)
        lp.col_lower_ = _finite(lower)
        lp.col_upper_ = _finite(upper)
        lp.row_lower_ = np.asarray(rhs, np.float64)
        lp.row_upper_ = np.asarray(rhs, np.float64)
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.num_col_ = n_col
        lp.a_matrix_.num_row_ = n_row
        lp.a_matrix_.start_ = csc.indptr.astype(np.int32)
        lp.a_matrix_.index_ = csc.indices.astype(np.int32)
        lp.a_matrix_.value_ = csc.data
        self.n_col = n_col
        self.highs = highspy.Highs()  # type: ignore[no-untyped-call]
        self.highs.silent()  # no banner or log on stdout: stdout holds the tables
        self.highs.setOptionValue("output_flag", False)
        self.highs.setOptionValue("log_to_console", False)
        self.highs.setOptionValue("threads", 1)
        self.highs.setOptionValue("random_seed", 0)
        self.highs.setOptionValue("solver", solver)
        self.highs.passModel(lp)

    def warm_objective(self) -> None:
        """Re-solve with primal simplex from the last basis: right when only costs change."""
        self.highs.setOptionValue("solver", "simplex")
        self.highs.setOptionValue("simplex_strategy", 4)
        self.highs.setOptionValue("presolve", "off")

    def limit_time(self, seconds: float) -> None:
        """Stop the solves to come after ``seconds`` more (``inf``: no limit); a solve
        stopped so raises ``RuntimeError``. HiGHS counts its limit from the model's
        first solve, so the limit is set from the time it has run so far."""
        limit = self.highs.getRunTime() + seconds if np.isfinite(seconds) else INF
        self.highs.setOptionValue("time_limit", float(limit))

    def set_cost(self, cols: np.ndarray, cost: np.ndarray) -> None:
        """Change the objective coefficients of ``cols``."""
        cols = np.asarray(cols, np.int32)
        self.highs.changeColsCost(len(cols), cols, np.asarray(cost, np.float64))

    def set_bounds(self, cols: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> None:
        """Change the bounds of ``cols`` (infinite bounds allowed)."""
        cols = np.asarray(cols, np.int32)
        self.highs.changeColsBounds(len(cols), cols, _finite(lower), _finite(upper))

    def solve(self, maximise: bool = False) -> tuple[str, float, np.ndarray]:
        """Solve; returns (``"optimal"|"unbounded"|"infeasible"``, objective, solution)."""
        sense = highspy.ObjSense.kMaximize if maximise else highspy.ObjSense.kMinimize
        self.highs.changeObjectiveSense(sense)
        self.highs.run()
        status = self.highs.getModelStatus()
        if status == highspy.HighsModelStatus.kOptimal:
            value = float(self.highs.getInfo().objective_function_value)
            return "optimal", value, np.asarray(self.highs.getSolution().col_value)
        if status == highspy.HighsModelStatus.kUnbounded:
            return "unbounded", np.inf if maximise else -np.inf, np.empty(0)
        if status == highspy.HighsModelStatus.kUnboundedOrInfeasible:
            return self._unbounded_or_infeasible(maximise)
        if status == highspy.HighsModelStatus.kInfeasible:
            return "infeasible", np.nan, np.empty(0)
        raise RuntimeError(f"HiGHS stopped with {self.highs.modelStatusToString(status)}")

    def _unbounded_or_infeasible(self, maximise: bool) -> tuple[str, float, np.ndarray]:
        """Tell unbounded from infeasible by solving once more with a zero objective."""
        cost = np.asarray(self.highs.getLp().col_cost_)
        self.set_cost(np.arange(self.n_col), np.zeros(self.n_col))
        self.highs.run()
        feasible = self.highs.getModelStatus() == highspy.HighsModelStatus.kOptimal
        self.set_cost(np.arange(self.n_col), cost)
        if feasible:
            return "unbounded", np.inf if maximise else -np.inf, np.empty(0)
        return "infeasible", np.nan, np.empty(0)


def _finite(bounds: np.ndarray) -> np.ndarray:
    """Bounds with numpy infinities mapped to HiGHS's infinity."""
    out = np.asarray(bounds, np.float64).copy()
    out[out == np.inf] = INF
    out[out == -np.inf] = -INF
    return out

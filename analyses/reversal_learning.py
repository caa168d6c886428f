"""Reversal learning with the blockHMM: validation on the authors' synthetic set-up, then mixed agents.

Two parts, each appended to ``OUT/results.jsonl`` as it finishes (a rerun with the same config
skips the parts already there, so an interrupted run resumes):

1. *validation* (Le et al. 2023, synthetic set-up): K = 3 modes, T = 30 trials, 1,000 blocks,
   offsets (1, 9, 4), slopes (0.8, 1.5, 0.2), lapses (0.15, 0.05, 0.30), sticky transitions
   (diagonal 0.95). For each dataset seed: fit K = 3, match modes to the truth, record parameter
   errors and the fraction of blocks whose Viterbi mode is right. On the first dataset, choose K
   on held-out blocks (bits per block above a Bernoulli model; published: 0.83, 1.41, 2.78,
   2.74, 2.81 for K = 1…5).
2. *agents*: sessions in which a Q-learning agent and a Bayesian inference agent take turns
   (sticky switching, stay 0.95 per block) on a reversal task with blocks of 15–25 trials
   (T = 15 trials kept per block, as for the mice). K is chosen on held-out blocks; a K = 2
   model is fitted, its modes are matched to the agents, and the mode-sequence accuracy and the
   curve parameters of each agent's mode are recorded.

Usage::

    python -m analyses.reversal_learning --out /tmp/rl              # full (~6 min on one core)
    python -m analyses.reversal_learning --out /tmp/rl --small      # smoke scale (< 1 min)
    python -m analyses.reversal_learning --out /tmp/rl --summarize  # rebuild summary + figures

References
----------
Le NM, Yildirim M, Wang Y, Sugihara H, Jazayeri M, Sur M (2023). Mixtures of strategies underlie
rodent behavior during reversal learning. PLoS Comput Biol 19(9):e1011430.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

import neurocompare as nc
from analyses._results import append_summary, read_runs, run_record

PUBLISHED_BITS = (0.83, 1.41, 2.78, 2.74, 2.81)  # Le et al. 2023, synthetic set-up, K = 1..5
TRUE = {"offsets": (1.0, 9.0, 4.0), "slopes": (0.8, 1.5, 0.2), "lapses": (0.15, 0.05, 0.30), "stay": 0.95}


@dataclass
class Config:
    """Parameters of the study (defaults: the authors' synthetic set-up, agent sessions of mouse size)."""

    out: str = "results/reversal_learning"
    seed: int = 0
    # part 1: validation
    validation_seeds: tuple[int, ...] = tuple(range(10))
    n_blocks: int = 1000
    n_trials: int = 30
    candidates: tuple[int, ...] = (1, 2, 3, 4, 5)
    n_folds: int = 5
    n_restarts: int = 5
    selection_restarts: int = 3
    # part 2: agents
    agent_seeds: tuple[int, ...] = (0, 1, 2)
    agent_blocks: int = 1000
    blocks_per_session: int = 50
    agent_trials: int = 15
    agent_candidates: tuple[int, ...] = (1, 2, 3, 4)
    learning_rate: float = 0.2
    epsilon: float = 0.2
    switch_prob: float = 0.05
    reward_prob: float = 0.8
    lapse: float = 0.02
    stay: float = 0.95
    small: bool = False
    extra: dict = field(default_factory=dict)

    def shrink(self) -> "Config":
        """Smoke-test scale: a few hundred blocks, fewer candidates, folds and restarts."""
        self.validation_seeds = (0,)
        self.n_blocks = 300
        self.candidates = (1, 2, 3, 4)
        self.n_folds = 3
        self.n_restarts = 2
        self.selection_restarts = 1
        self.agent_seeds = (0,)
        self.agent_blocks = 300
        self.agent_candidates = (1, 2, 3)
        self.small = True
        return self


def _true_model(cfg: Config) -> Any:
    k = len(TRUE["offsets"])
    a = np.full((k, k), (1 - TRUE["stay"]) / (k - 1))
    np.fill_diagonal(a, TRUE["stay"])
    return nc.BlockHMM.from_params(TRUE["offsets"], TRUE["slopes"], TRUE["lapses"], a, n_trials=cfg.n_trials)


def _match(fitted: Any, true: Any) -> np.ndarray:
    """perm[true mode] = fitted mode, by the best assignment of (offset, slope, lapse) distances."""
    from scipy.optimize import linear_sum_assignment

    def feats(m: Any) -> np.ndarray:
        return np.stack([m.offsets_ / 10.0, np.log(m.slopes_), m.lapses_ * 10.0], axis=1)

    cost = ((feats(true)[:, None, :] - feats(fitted)[None, :, :]) ** 2).sum(-1)
    rows, cols = linear_sum_assignment(cost)
    return cols[np.argsort(rows)]


def run_validation(cfg: Config, seed: int) -> dict:
    t0 = time.time()
    true = _true_model(cfg)
    y, modes = true.sample(cfg.n_blocks, seed=seed)
    fit = nc.BlockHMM(len(TRUE["offsets"]), cfg.n_trials, n_restarts=cfg.n_restarts, seed=cfg.seed).fit(y)
    perm = _match(fit, true)
    inverse = np.argsort(perm)
    accuracy = float((inverse[fit.most_likely_modes(y)] == modes).mean())
    row = {"part": "validation", "seed": seed, "mode_accuracy": accuracy, "seconds": round(time.time() - t0, 1),
           "log_likelihood": fit.log_likelihood_, "true_log_likelihood": true.score(y)}
    for name in ("offsets", "slopes", "lapses"):
        row[name] = getattr(fit, f"{name}_")[perm].tolist()
    row["transmat_diag"] = np.diag(fit.transmat_[np.ix_(perm, perm)]).tolist()
    if seed == cfg.validation_seeds[0]:
        sel = nc.behavior.select_n_modes(y, cfg.candidates, n_folds=cfg.n_folds, n_restarts=cfg.selection_restarts, seed=cfg.seed)
        row["selection"] = {"candidates": list(map(int, sel.candidates)), "mean": sel.mean.tolist(), "sem": sel.sem.tolist(),
                            "chosen": sel.n_modes, "rule": sel.rule}
    return row


def _agents(cfg: Config) -> list:
    b = nc.behavior
    return [b.QLearningAgent(cfg.learning_rate, cfg.epsilon), b.InferenceAgent(cfg.switch_prob, cfg.reward_prob, cfg.lapse)]


def agent_data(cfg: Config, seed: int) -> tuple[np.ndarray, np.ndarray, list[int], tuple[str, ...]]:
    """Block outcomes, true agent per block, blocks per session and agent kinds of one seed."""
    n_sessions = max(1, cfg.agent_blocks // cfg.blocks_per_session)
    ys, truth, lengths = [], [], []
    a = np.array([[cfg.stay, 1 - cfg.stay], [1 - cfg.stay, cfg.stay]])
    kinds: tuple[str, ...] = ()
    for s in range(n_sessions):
        session = nc.behavior.simulate_reversal(_agents(cfg), cfg.blocks_per_session, agent_transmat=a, seed=seed * 10_000 + s)
        ys.append(session.outcomes(cfg.agent_trials))
        truth.append(session.agents)
        lengths.append(cfg.blocks_per_session)
        kinds = session.agent_kinds
    return np.concatenate(ys), np.concatenate(truth), lengths, kinds


def run_agents(cfg: Config, seed: int) -> dict:
    t0 = time.time()
    y, truth, lengths, kinds = agent_data(cfg, seed)
    sel = nc.behavior.select_n_modes(y, cfg.agent_candidates, n_folds=cfg.n_folds, lengths=lengths,
                                     n_restarts=cfg.selection_restarts, seed=cfg.seed)
    fit = nc.BlockHMM(2, cfg.agent_trials, n_restarts=cfg.n_restarts, seed=cfg.seed).fit(y, lengths)
    modes = fit.most_likely_modes(y, lengths)
    # mode -> agent by majority vote
    agent_of_mode = [int(np.bincount(truth[modes == m], minlength=2).argmax()) if (modes == m).any() else -1 for m in range(2)]
    accuracy = float((np.array(agent_of_mode)[modes] == truth).mean())
    per_agent = {}
    for m, ag in enumerate(agent_of_mode):
        if ag >= 0:
            per_agent[kinds[ag]] = {"offset": float(fit.offsets_[m]), "slope": float(fit.slopes_[m]), "lapse": float(fit.lapses_[m])}
    return {"part": "agents", "seed": seed, "agent_kinds": list(kinds), "mode_accuracy": accuracy, "per_agent": per_agent,
            "distinct_agents_matched": len(set(agent_of_mode)) == 2,
            "selection": {"candidates": list(map(int, sel.candidates)), "mean": sel.mean.tolist(), "sem": sel.sem.tolist(),
                          "chosen": sel.n_modes},
            "seconds": round(time.time() - t0, 1)}


def _ms(values: list[float]) -> dict:
    v = np.asarray(values, dtype=float)
    return {"mean": float(v.mean()), "sd": float(v.std(ddof=1)) if v.size > 1 else None, "n": int(v.size)}


def summarize(rows: list[dict]) -> dict:
    val = [r for r in rows if r["part"] == "validation"]
    ags = [r for r in rows if r["part"] == "agents"]
    out: dict[str, Any] = {}
    if val:
        off = np.array([r["offsets"] for r in val])
        slo = np.array([r["slopes"] for r in val])
        lap = np.array([r["lapses"] for r in val])
        t_off, t_slo, t_lap = (np.array(TRUE[k]) for k in ("offsets", "slopes", "lapses"))
        out["validation"] = {
            "n_datasets": len(val),
            "offsets": {"mean": off.mean(0).tolist(), "sd": off.std(0, ddof=1).tolist() if len(val) > 1 else None, "true": list(t_off)},
            "slopes": {"mean": slo.mean(0).tolist(), "sd": slo.std(0, ddof=1).tolist() if len(val) > 1 else None, "true": list(t_slo)},
            "lapses": {"mean": lap.mean(0).tolist(), "sd": lap.std(0, ddof=1).tolist() if len(val) > 1 else None, "true": list(t_lap)},
            "offsets_within_0.5": int((np.abs(off - t_off) <= 0.5).all(1).sum()),
            "slopes_within_20pct": int((np.abs(slo / t_slo - 1) <= 0.2).all(1).sum()),
            "lapses_within_0.02": int((np.abs(lap - t_lap) <= 0.02).all(1).sum()),
            "mode_accuracy": _ms([r["mode_accuracy"] for r in val]),
            "mode_accuracy_min": float(min(r["mode_accuracy"] for r in val)),
            "selection": next((r["selection"] for r in val if "selection" in r), None),
            "published_bits": list(PUBLISHED_BITS),
        }
    if ags:
        kinds = ags[0]["agent_kinds"]
        per = {k: {p: _ms([r["per_agent"][k][p] for r in ags if k in r["per_agent"]]) for p in ("offset", "slope", "lapse")} for k in kinds}
        out["agents"] = {
            "n_seeds": len(ags),
            "mode_accuracy": _ms([r["mode_accuracy"] for r in ags]),
            "mode_accuracy_min": float(min(r["mode_accuracy"] for r in ags)),
            "per_agent": per,
            "chosen_n_modes": [r["selection"]["chosen"] for r in ags],
            "inference_earlier_sharper_lower_lapse": [
                bool(r["per_agent"]["inference"]["offset"] < r["per_agent"]["q_learning"]["offset"]
                     and r["per_agent"]["inference"]["slope"] > r["per_agent"]["q_learning"]["slope"]
                     and r["per_agent"]["inference"]["lapse"] < r["per_agent"]["q_learning"]["lapse"])
                for r in ags if {"inference", "q_learning"} <= set(r["per_agent"])
            ],
        }
    return out


def plot(cfg: Config, rows: list[dict], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ags = [r for r in rows if r["part"] == "agents"]
    val = [r for r in rows if r["part"] == "validation" and "selection" in r]
    if ags:
        seed = ags[0]["seed"]
        y, truth, lengths, kinds = agent_data(cfg, seed)
        fit = nc.BlockHMM(2, cfg.agent_trials, n_restarts=cfg.n_restarts, seed=cfg.seed).fit(y, lengths)
        modes = fit.most_likely_modes(y, lengths)
        fig, axes = plt.subplots(1, 2, figsize=(11, 3.2), gridspec_kw={"width_ratios": [1, 2]})
        nc.plotting.plot_transition_curves(fit, y, modes, ax=axes[0])
        axes[0].set_title(f"agents, seed {seed}: fitted K=2 curves", fontsize=9)
        nc.plotting.plot_mode_sequence(fit.posterior(y, lengths), truth, max_blocks=150, ax=axes[1])
        axes[1].set_title("posterior mode per block; ticks: true agent (" + ", ".join(f"{i}={k}" for i, k in enumerate(kinds)) + ")", fontsize=9, pad=16)
        fig.tight_layout()
        fig.savefig(out / "reversal_agents.png", dpi=120)
        plt.close(fig)
    if val:
        sel = val[0]["selection"]

        class _Sel:  # the plotting function reads these attributes of a ModeSelection
            candidates = np.array(sel["candidates"])
            mean = np.array(sel["mean"])
            sem = np.array(sel["sem"])
            n_modes = sel["chosen"]

        pub = [PUBLISHED_BITS[k - 1] for k in sel["candidates"] if k <= len(PUBLISHED_BITS)]
        fig = nc.plotting.plot_mode_selection(_Sel(), published=pub if len(pub) == len(sel["candidates"]) else None)
        fig.savefig(out / "reversal_selection.png", dpi=120)
        plt.close(fig)


def _done(out: Path, cfg: Config) -> dict[tuple[str, int], dict]:
    path = out / "results.jsonl"
    if not path.exists():
        return {}
    want = dataclasses.asdict(cfg)
    done = {}
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        rec = json.loads(line)
        if rec.get("kind") == "run" and rec.get("config") == json.loads(json.dumps(want)):
            done[(rec["part"], rec["seed"])] = rec
    return done


def run(cfg: Config) -> dict:
    """Run both parts (resuming), append runs and the summary to ``OUT/results.jsonl``, draw figures."""
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    record = run_record("reversal_learning", cfg)
    done = _done(out, cfg)
    rows = []
    jobs = [("validation", s) for s in cfg.validation_seeds] + [("agents", s) for s in cfg.agent_seeds]
    with open(out / "results.jsonl", "a") as fh:
        for part, seed in jobs:
            if (part, seed) in done:
                rows.append(done[(part, seed)])
                continue
            row = run_validation(cfg, seed) if part == "validation" else run_agents(cfg, seed)
            rows.append({**record, "kind": "run", **row})
            fh.write(json.dumps(rows[-1]) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
            print(f"{part} seed {seed}: mode accuracy {row['mode_accuracy']:.3f} ({row['seconds']} s)", flush=True)
        summary = summarize(rows)
        fh.write(json.dumps({**record, "kind": "summary", "seeds": {"validation": list(cfg.validation_seeds),
                                                                   "agents": list(cfg.agent_seeds)}, "summary": summary}) + "\n")
    plot(cfg, rows, out)
    return summary


def summarize_existing(cfg: Config) -> dict:
    """Rebuild the summary and figures from the runs already in ``OUT/results.jsonl``."""
    rows = read_runs(cfg.out)
    summary = summarize(rows)
    append_summary(cfg.out, "reversal_learning", rows, summary)
    plot(cfg, rows, Path(cfg.out))
    return summary


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", required=True)
    p.add_argument("--small", action="store_true", help="smoke-test scale (also NEUROCOMPARE_SMALL=1)")
    p.add_argument("--seed", type=int, default=0, help="seed of the k-means initialisations")
    p.add_argument("--validation-seeds", type=int, nargs="+", default=None)
    p.add_argument("--agent-seeds", type=int, nargs="+", default=None)
    p.add_argument("--summarize", action="store_true", help="only rebuild summary + figures from OUT/results.jsonl")
    a = p.parse_args(argv)
    cfg = Config(out=a.out, seed=a.seed)
    if a.small or os.environ.get("NEUROCOMPARE_SMALL", "") not in ("", "0"):
        cfg.shrink()
    if a.validation_seeds:
        cfg.validation_seeds = tuple(a.validation_seeds)
    if a.agent_seeds:
        cfg.agent_seeds = tuple(a.agent_seeds)
    summary = summarize_existing(cfg) if a.summarize else run(cfg)
    print(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The claim grammar: a paper's statements written as comparisons of report quantities.

A spec may list ``claims:``; ``peftal study validate`` checks them with the rest of the spec and
``peftal report`` judges each one on the stored runs (:mod:`peftal.claims.judge`). One claim::

    claims:
      - says: "PEFT ... outperforms FFT in low-resource settings"   # the paper's sentence, quoted
        check: auc(method=houlsby|lora) > auc(method=full)        # the comparison
        per: [dataset]                                           # one verdict per dataset
        paper: "Table 2: adapters above FFT on every dataset"     # optional wording, shown beside ours
        paper_value: 0.85                                        # the paper's number for the left side
        paper_source: "Table 2, BERT-base, TREC"                 # required with paper_value
        test: t                                                  # t (default) or wilcoxon
        alpha: 0.05                                              # default 0.05
        not_judged: "the study has no DAPT cells"                 # optional: shown instead of a verdict

The ``check`` grammar::

    check     := side OP side_or_number [ "within" MARGIN ]
    side      := QUANTITY [ "[" option=value, ... "]" ] "(" [ key=value[|value...], ... ] ")"
    OP        := ">" | "<" | "="            ("=" needs "within MARGIN": equal up to ± MARGIN)

A quantity is one number per run (:data:`QUANTITIES`). ``final[metric=mcc|f1]`` takes, for each
run, the first listed metric its dataset records (MCC on CoLA, F1 on MRPC: the papers' metrics).
The left selector picks runs (a value list ``a|b`` gives one comparison per value); each is paired
with the run whose config is the same except for the keys named on the right, which take the
right's values (so ``final(method=bitfit, fraction=0.3) > final(method=full)`` compares with
``full`` at fraction 0.3). A number on the right compares each run with that constant. Runs that
differ only in keys neither selected nor in ``per`` (strategies, if the claim does not name them;
TAPT) are averaged within their seed first, so each seed is one pair.

``paper_value`` is a number, or a mapping from a row's group value (``trec``, or
``dataset=trec, fraction=0.3``) to a number; a value without ``paper_source`` is an error: the
report never shows a number without its source. ``not_judged`` keeps a finding in the table that
this study cannot test (its check is parsed, not matched against the cells), with the reason.

Nothing here reads results: this module parses and checks claims against the spec's cells, so a
claim that can never be judged (a value no cell has, a missing baseline cell) fails validation.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

OPERATORS = (">", "<", "=")
TESTS = ("t", "wilcoxon")
PASSIVE = "random"


@dataclass(frozen=True)
class QuantitySpec:
    """A per-run number a claim may compare.

    Attributes:
        name: Grammar name.
        options: Option name → description (``cka[layers=1-3]``).
        active_learning_only: Whether only AL runs have it (learning curves, forgetting, CKA).
        description: One line for the docs.
    """

    name: str
    options: Mapping[str, str]
    active_learning_only: bool
    description: str


QUANTITIES: dict[str, QuantitySpec] = {q.name: q for q in (
    QuantitySpec("final", {"metric": "recorded metric names `a|b`: each run's first one its dataset "
                                     "records (default: the run's primary metric)"},
                 False, "final test value of the primary metric (or of `metric`)"),
    QuantitySpec("train_seconds", {}, False, "training wall time of the run in seconds (summed "
                 "over AL rounds; TAPT not included)"),
    QuantitySpec("trainable_params", {}, False, "parameters the method trains, task head included"),
    QuantitySpec("auc", {}, True, "area under the learning curve, in [0, 1]"),
    QuantitySpec("ripl", {}, True, "relative improvement over the paired `random` run"),
    QuantitySpec("cka", {"layers": "first-last, inclusive; 0 = the embedding output (default: all)"},
                 True, "mean linear CKA to the base model over the given layers (last round)"),
    QuantitySpec("unforgettable", {"of": "all (default) or queried"}, True,
                 "share of the last round's labelled examples that were never forgotten"),
    QuantitySpec("forgettable", {"of": "all (default) or queried"}, True,
                 "share of the last round's labelled examples with a forgetting event"),
)}


@dataclass(frozen=True)
class Side:
    """One side of a comparison: a quantity over the runs a selector picks.

    Attributes:
        quantity: A name of :data:`QUANTITIES`.
        options: The quantity's options as written (``{"layers": "0-3"}``).
        select: Config key → accepted values (typed as YAML reads them).
    """

    quantity: str
    options: dict[str, str] = field(default_factory=dict)
    select: dict[str, tuple[Any, ...]] = field(default_factory=dict)

    @property
    def label(self) -> str:
        options = f"[{','.join(f'{k}={v}' for k, v in self.options.items())}]" if self.options else ""
        select = ", ".join(f"{k}={'|'.join(map(str, v))}" for k, v in self.select.items())
        return f"{self.quantity}{options}({select})"


@dataclass(frozen=True)
class Claim:
    """A parsed claim (see the module docstring for the grammar).

    Attributes:
        index: 1-based position in the spec's list (for messages).
        says: The statement, in words.
        check: The comparison as written.
        left: The runs that should win (or match).
        op: ``>``, ``<`` or ``=``.
        right: The baseline side, or ``None`` when comparing with ``number``.
        number: The constant on the right, when there is no right side.
        margin: Half-width of the band of ``=``.
        per: Config keys giving one verdict per value.
        test: ``t`` (paired t-test) or ``wilcoxon`` (signed-rank).
        alpha: Significance level of each one-sided test.
        paper: The paper's figure or wording, shown beside ours.
        paper_value: The paper's number for the left side: one number, or group value → number.
        paper_source: Where ``paper_value`` is from (table, model size).
        not_judged: Why this study cannot test the claim (shown instead of a verdict), or "".
    """

    index: int
    says: str
    check: str
    left: Side
    op: str
    right: Side | None = None
    number: float | None = None
    margin: float = 0.0
    per: tuple[str, ...] = ()
    test: str = "t"
    alpha: float = 0.05
    paper: str = ""
    paper_value: float | Mapping[str, float] | None = None
    paper_source: str = ""
    not_judged: str = ""


_CHECK = re.compile(r"^\s*(?P<left>.+?\))\s*(?P<op>[<>=])\s*(?P<right>.+?)"
                    r"(?:\s+within\s+(?P<margin>\S+))?\s*$")
_SIDE = re.compile(r"^\s*(?P<name>[a-z_]+)\s*(?:\[(?P<options>[^\]]*)\])?\s*\((?P<select>.*)\)\s*$")
_KEYS = {"says", "check", "per", "test", "alpha", "paper", "paper_value", "paper_source", "not_judged"}


def _split_top(text: str, sep: str) -> list[str]:
    """Split at ``sep`` outside brackets (``method=lora[r=8,alpha=16]`` keeps its comma)."""
    parts, depth, current = [], 0, []
    for char in text:
        depth += char == "["
        depth -= char == "]"
        if char == sep and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return [part.strip() for part in parts]


def _scalar(text: str) -> Any:
    """A selector value typed as YAML would read it (``0.3``, ``true``, ``null``, ``lora``)."""
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    return value if isinstance(value, (str, int, float, bool)) or value is None else text


def _side(text: str, where: str) -> Side:
    match = _SIDE.match(text)
    if not match:
        raise ValueError(f"{where}: {text!r} is not QUANTITY(key=value, ...)")
    name = match["name"]
    if name not in QUANTITIES:
        raise ValueError(f"{where}: unknown quantity {name!r}; one of {', '.join(QUANTITIES)}")
    options: dict[str, str] = {}
    for item in _split_top(match["options"] or "", ","):
        if not item:
            continue
        key, eq, value = item.partition("=")
        if not eq or key.strip() not in QUANTITIES[name].options:
            allowed = ", ".join(QUANTITIES[name].options) or "none"
            raise ValueError(f"{where}: bad option {item!r} of {name!r} (options: {allowed})")
        options[key.strip()] = value.strip()
    _check_options(options, where)
    select: dict[str, tuple[Any, ...]] = {}
    for item in _split_top(match["select"], ","):
        if not item:
            continue
        key, eq, values = item.partition("=")
        if not eq or not key.strip() or not values.strip():
            raise ValueError(f"{where}: {item!r} is not key=value")
        select[key.strip().replace("-", "_")] = tuple(_scalar(v) for v in _split_top(values, "|"))
    return Side(name, options, select)


def _check_options(options: dict[str, str], where: str) -> None:
    if "layers" in options and not re.fullmatch(r"\d+(-\d+)?", options["layers"]):
        raise ValueError(f"{where}: layers must read FIRST-LAST or N, got {options['layers']!r}")
    if options.get("of", "all") not in ("all", "queried"):
        raise ValueError(f"{where}: 'of' must be all or queried, got {options['of']!r}")


def _number(text: str, what: str, where: str) -> float:
    try:
        return float(text)
    except (TypeError, ValueError):
        raise ValueError(f"{where}: {what} must be a number, got {text!r}") from None


def parse_claim(item: Any, index: int) -> Claim:
    """Parse one entry of ``claims:`` (a mapping, or a bare check string); ``ValueError`` if bad."""
    where = f"claim {index}"
    if isinstance(item, str):
        item = {"check": item}
    if not isinstance(item, dict):
        raise ValueError(f"{where}: a claim is a mapping with 'check' (and 'says', 'per', ...)")
    unknown = sorted(set(map(str, item)) - _KEYS)
    if unknown:
        raise ValueError(f"{where}: unknown key {unknown[0]!r}; valid keys: {', '.join(sorted(_KEYS))}")
    check = item.get("check")
    if not isinstance(check, str) or not (match := _CHECK.match(check)):
        raise ValueError(f"{where}: 'check' must read like 'auc(method=lora) > auc(method=full)', "
                         f"got {check!r}")
    left, op = _side(match["left"], where), match["op"]
    right_text, right, number = match["right"], None, None
    if "(" in right_text:
        right = _side(right_text, where)
    else:
        number = _number(right_text, "the right-hand side", where)
    margin = _number(match["margin"], "the margin", where) if match["margin"] else 0.0
    per = item.get("per", [])
    per = [per] if isinstance(per, str) else per
    if not isinstance(per, list) or not all(isinstance(p, str) for p in per):
        raise ValueError(f"{where}: 'per' must be a list of option names")
    test = str(item.get("test", "t"))
    alpha = _number(item.get("alpha", 0.05), "alpha", where)
    claim = Claim(index=index, says=str(item.get("says") or check), check=check, left=left, op=op,
                  right=right, number=number, margin=margin, per=tuple(p.replace("-", "_") for p in per),
                  test=test, alpha=alpha, paper=str(item.get("paper") or ""),
                  paper_value=_paper_value(item, where), paper_source=str(item.get("paper_source") or ""),
                  not_judged=str(item.get("not_judged") or ""))
    _check_form(claim, where)
    return claim


def _paper_value(item: Mapping[str, Any], where: str) -> float | dict[str, float] | None:
    """The paper's number(s); an error without ``paper_source`` (never a number without a source)."""
    value = item.get("paper_value")
    if value is None:
        return None
    if not str(item.get("paper_source") or "").strip():
        raise ValueError(f"{where}: paper_value needs paper_source (table, model size) beside it")
    if isinstance(value, Mapping):
        return {str(key): _number(v, f"paper_value of {key!r}", where) for key, v in value.items()}
    return _number(value, "paper_value", where)


def _check_form(claim: Claim, where: str) -> None:
    """Checks that need no cells: operator and margin, test, alpha, the two sides agree."""
    if claim.op == "=" and not claim.margin > 0:
        raise ValueError(f"{where}: '=' needs a band: '... = ... within 0.01'")
    if claim.op != "=" and claim.margin:
        raise ValueError(f"{where}: 'within' applies to '=' only")
    if claim.test not in TESTS:
        raise ValueError(f"{where}: test must be one of {', '.join(TESTS)}, got {claim.test!r}")
    if not 0 < claim.alpha < 0.5:
        raise ValueError(f"{where}: alpha must lie in (0, 0.5), got {claim.alpha}")
    if claim.right is not None:
        if (claim.right.quantity, claim.right.options) != (claim.left.quantity, claim.left.options):
            raise ValueError(f"{where}: both sides must compare the same quantity "
                             f"({claim.left.label} vs {claim.right.label})")
        if not claim.right.select:
            raise ValueError(f"{where}: the right side must name what differs, e.g. (method=full)")
        several = [key for key, values in claim.right.select.items() if len(values) > 1]
        if several:
            raise ValueError(f"{where}: the right side takes one value per key ({several[0]!r})")
    if claim.left.quantity == "ripl" and PASSIVE in claim.left.select.get("strategy", ()):
        raise ValueError(f"{where}: ripl of the 'random' strategy is not defined")


def same_value(a: Any, b: Any) -> bool:
    """Whether config value ``a`` equals selector value ``b`` (``0.3`` == ``0.3``, ``"1"`` == 1)."""
    if isinstance(a, bool) or isinstance(b, bool) or a is None or b is None:
        return a is b or a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return float(a) == float(b)
    return str(a) == str(b)


def matches(config: Mapping[str, Any], select: Mapping[str, Iterable[Any]]) -> bool:
    """Whether a run's ``config`` takes one of the listed values for every selected key."""
    return all(any(same_value(config.get(key), v) for v in values) for key, values in select.items())


# a method's recipe (a spec's `recipes:`, peftal.peft.recipes.RECIPE_KEYS) goes with it
RECIPE_KEYS = ("lr", "head_lr", "min_steps", "linear_probe_init")


def identity(config: Mapping[str, Any], leave_out: Iterable[str]) -> str:
    """A run's config without ``leave_out`` (the method with its :data:`RECIPE_KEYS`): equal for
    the two runs of a pair."""
    leave_out = set(leave_out) | (set(RECIPE_KEYS) if "method" in leave_out else set())
    return json.dumps({k: v for k, v in config.items() if k not in leave_out}, sort_keys=True,
                      default=str)


def check_claims(raw: Any, configs: list[Mapping[str, Any]], kind: str) -> list[str]:
    """Every problem of a spec's ``claims:`` list against the configs of its cells."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        return ["'claims' must be a list of claims (each a mapping with 'check')"]
    problems: list[str] = []
    for index, item in enumerate(raw, start=1):
        try:
            claim = parse_claim(item, index)
        except ValueError as error:
            problems.append(str(error))
            continue
        if not claim.not_judged:  # its check names what the study lacks: nothing to match
            problems.extend(_check_against_cells(claim, configs, kind))
    return problems


def _check_against_cells(claim: Claim, configs: list[Mapping[str, Any]], kind: str) -> list[str]:
    where = f"claim {claim.index}"
    quantity = QUANTITIES[claim.left.quantity]
    # Learning curves, forgetting and CKA come from AL rounds: cells with a query strategy.
    if quantity.active_learning_only and not any("strategy" in c for c in configs):
        return [f"{where}: {quantity.name!r} exists for active-learning studies only (kind {kind!r})"]
    problems = _check_names(claim, configs, where) or _check_metrics(claim, configs, where)
    if problems:
        return problems
    left = [c for c in configs if matches(c, claim.left.select)]
    if claim.left.quantity == "ripl":
        left = [c for c in left if not same_value(c.get("strategy"), PASSIVE)]
    if not left:
        return [f"{where}: no cell matches {claim.left.label}"]
    if claim.right is not None:
        right_keys = list(claim.right.select)
        partners = {identity(c, right_keys) for c in configs if matches(c, claim.right.select)}
        alone = [c for c in left if identity(c, right_keys) not in partners]
        if alone:
            return [f"{where}: {len(alone)} of the {len(left)} cells of {claim.left.label} have no "
                    f"partner {claim.right.label} with the same other options"]
    if claim.left.quantity == "ripl":
        passive = {identity(c, ["strategy"]) for c in configs if same_value(c.get("strategy"), PASSIVE)}
        if any(identity(c, ["strategy"]) not in passive for c in left):
            return [f"{where}: ripl needs a 'random' cell with the same other options for every cell"]
    return []


def _check_names(claim: Claim, configs: list[Mapping[str, Any]], where: str) -> list[str]:
    """Selected and ``per`` keys are options of the cells, and every selected value is taken."""
    keys = set().union(*(c.keys() for c in configs)) if configs else set()
    sides = [claim.left, *([claim.right] if claim.right else [])]
    for name in [*(k for side in sides for k in side.select), *claim.per]:
        if name not in keys:
            return [f"{where}: {name!r} is not an option of the study's cells"]
    problems = []
    for side in sides:
        for key, values in side.select.items():
            for value in values:
                if not any(same_value(c.get(key), value) for c in configs):
                    taken = sorted({str(c.get(key)) for c in configs})
                    problems.append(f"{where}: no cell has {key}={value} (values: {', '.join(taken)})")
    return problems


def metric_names(side: Side) -> tuple[str, ...]:
    """The metrics ``final[metric=a|b]`` names, in order of preference (empty: the primary one)."""
    return tuple(name.strip() for name in side.options.get("metric", "").split("|") if name.strip())


def _check_metrics(claim: Claim, configs: list[Mapping[str, Any]], where: str) -> list[str]:
    """Every built-in dataset of the selected cells records one of the metrics the claim names."""
    from peftal.data import DATASETS

    names = metric_names(claim.left)
    if not names:
        return []
    problems = []
    for dataset in sorted({str(c.get("dataset")) for c in configs if matches(c, claim.left.select)}):
        if dataset in DATASETS and not set(names) & set(DATASETS.get(dataset).metrics):
            problems.append(f"{where}: dataset {dataset!r} records none of {', '.join(names)} "
                            f"(it records {', '.join(DATASETS.get(dataset).metrics)})")
    return problems

"""The background worker: embeds the pool, refits the linear probe after every label, and
retrains the PEFT model after every ``query_size`` new labels.

A process rather than a thread: the server then never imports torch, never shares the GIL with a
training loop, and keeps answering in milliseconds while a model trains (docs/labelling.md has
the measurement). The two talk only through the project's SQLite store: the worker polls for new
labels, and publishes each new ranking and model status in one transaction, so the page serves
the previous ranking until the new one replaces it whole.

The worker dies with the server: Linux delivers SIGKILL to it when its parent exits (prctl
PR_SET_PDEATHSIG), and it also checks its parent between and within jobs.

One loop, in order of urgency: refit the probe when labels changed (milliseconds), a due retrain,
the cross-validation of the newest model, a point of the probe's accuracy curve when due, then one
chunk of the pool's embedding (a second or two). Training steps and forward passes call back
between them, and the callback refits the probe too, so its suggestions follow every label even
while a model trains.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import signal
import sys
import time
import traceback
from pathlib import Path
from typing import Any

import numpy as np

from peftal.label.probe import FRESH_MIN, fresh_comparison, model_suggests
from peftal.label.project import LabelSettings, open_project
from peftal.label.store import LabelStore, utc_now

POLL_SECONDS = 0.25
PROBE_CHECK_SECONDS = 0.3  # within a job, how often the probe looks for new labels


class ParentGone(Exception):
    """The server that started this worker has exited."""


class Worker:
    """The retrain / cross-validate loop of one project.

    Args:
        store: The project's store.
        settings: Its settings.
        parent_pid: The server's pid (``None``: do not watch a parent, e.g. in tests).
        backbone: ``(encoder, tokenizer)`` already loaded (tests); default: load the project's.
    """

    def __init__(self, store: LabelStore, settings: LabelSettings, parent_pid: int | None = None,
                 backbone: tuple[Any, Any] | None = None) -> None:
        self.store = store
        self.settings = settings
        self.parent_pid = parent_pid
        self.backbone = backbone
        self.model = None
        self.embedder = None
        self.probe = None
        self._pending: tuple[int, list[int], dict] | None = None  # a ranking not published yet
        self._probe_check = 0.0
        self._embedding_failed = False
        self._failed_at_seq = -1
        self._cv_done_for = -1
        self._last_check = 0.0
        self._probe_point_skipped = -1
        self._fresh_seen: tuple[int, int] | None = None  # (generation, last_seq) last judged
        self._probe_said: dict[int, np.ndarray] = {}  # the probe's decision for a text before its label

    def parent_alive(self) -> bool:
        return self.parent_pid is None or os.getppid() == self.parent_pid

    def run(self, max_jobs: int | None = None) -> None:
        """Serve until the parent exits (or ``max_jobs`` jobs are done, for tests)."""
        from peftal.label.embeddings import PoolEmbedder
        from peftal.label.model import LabelModel
        from peftal.label.probe import Probe

        self.store.update_model(activity="loading the model")
        try:
            self.model = LabelModel(self.store, self.settings, self.backbone)
        except Exception as error:  # e.g. a model name that cannot be loaded: say so on the page
            self.store.update_model(activity="stopped", error=f"cannot load the model: {error}")
            raise
        self.embedder = PoolEmbedder(self.store, self.settings, self.model.encoder,
                                     self.model.tokenizer, self.store.path.parent)
        self.probe = Probe(self.store, self.settings, self.embedder.cache)
        self.store.update_model(activity="idle")
        if self.settings.cold_start == "kmeans":
            self.kmeans_cold_start()
        jobs = 0
        while self.parent_alive() and (max_jobs is None or jobs < max_jobs):
            try:
                did = self.step()
            except ParentGone:
                return
            jobs += did
            if not did:
                time.sleep(POLL_SECONDS)

    def retrain_due(self, status: dict[str, Any]) -> bool:
        new = self.store.new_labels_since(int(status.get("last_seq", 0)))
        if new < self.settings.query_size:
            return False
        # After a failure, try again only once more labels have come in.
        return self.store.label_snapshot()[2] > self._failed_at_seq

    def step(self) -> bool:
        """Do what is due: refit the probe if labels changed, then one job: a retrain, else the
        cross-validation of the current model, else a chunk of the embedding. Returns whether
        anything ran."""
        refitted = self.update_probe()
        judged = self.judge_on_fresh_labels()
        status = self.store.get_meta("model", {})
        generation = int(status.get("generation", 0))
        if self.retrain_due(status):
            self.retrain(generation + 1)
            return True
        if (self.settings.cv_folds >= 2 and generation >= 1
                and status.get("accuracy_generation") != generation and self._cv_done_for != generation):
            self.cross_validate(generation, status)
            return True
        if self.probe is not None and self.probe_point():
            return True
        if self.embedder is not None and self.embedder.pending() and not self._embedding_failed:
            self.embed_chunk()
            return True
        return refitted or judged

    def probe_point(self) -> bool:
        """Score the probe out of fold for the model view's accuracy curve when due
        (:func:`peftal.label.model_view.probe_point_due`); returns whether it did."""
        from peftal.label.model_view import evaluate_probe, probe_point_due
        from peftal.seeding import stream_seed

        ids, targets, _, _ = self.probe.labelled()
        if len(ids) == self._probe_point_skipped or not probe_point_due(self.store, len(ids)):
            return False
        try:
            view = evaluate_probe(self.probe.cache.get(ids), targets, list(self.settings.labels),
                                  stream_seed(self.settings.seed, "review"))
        except Exception:
            view = None
            traceback.print_exc()
        if view is None:  # too few labels (or a failure): tried again after the next label
            self._probe_point_skipped = len(ids)
            return False
        return self.store.add_accuracy_point({"model": "probe", "labels": view["labels"],
                                              "folds": view["folds"], "accuracy": view["accuracy"],
                                              "f1_macro": view["f1_macro"]})

    def embed_chunk(self) -> None:
        """Embed and commit the next chunk of the pool (labelled texts first: the probe needs
        them); a failure (e.g. a full disk) stops the embedding, not the worker."""
        progress = {"embedded": self.embedder.cache.count, "pool": self.embedder.pool_size}
        try:
            ids = np.asarray(self.store.label_snapshot()[0], dtype=np.int64)
            self.embedder.embed_chunk(ids, between=self._between)
        except ParentGone:
            raise
        except Exception as error:
            self._embedding_failed = True
            self.store.set_meta("embedding", {**progress, "error": f"{type(error).__name__}: {error}"})
            traceback.print_exc()
            return
        self.store.set_meta("embedding", {**progress, "embedded": self.embedder.cache.count})
        self.update_probe()  # the new texts get suggestions and a place in the order

    def update_probe(self, force: bool = False) -> bool:
        """Refit and publish the probe if labels changed, unless a PEFT model suggests. A failed
        fit is logged and tried again after the next label."""
        if self.probe is None or model_suggests(self.store.get_meta("model", {})):
            return False
        try:
            return self.probe.update(force)
        except Exception:
            traceback.print_exc()
            return False

    def _between(self) -> None:
        """Called between training steps and forward passes: the parent, then the probe."""
        self._check_parent()
        now = time.monotonic()
        if now - self._probe_check > PROBE_CHECK_SECONDS:
            self._probe_check = now
            self.update_probe()

    def retrain(self, generation: int) -> None:
        started = time.perf_counter()
        self.store.update_model(activity="training", activity_since=utc_now())
        if not self.probe_usable():
            self.store.update_model(beats_probe=True)  # no probe to compare with: the model suggests
        publish = model_suggests({**self.store.get_meta("model", {}), "generation": generation})
        try:
            record, order, suggestions = self.model.retrain(generation, on_step=self._between,
                                                            publish=publish)
        except ParentGone:
            raise
        except Exception as error:  # a failed retrain must not stop the loop; the page shows it
            self._failed_at_seq = self.store.label_snapshot()[2]
            self.store.update_model(activity="idle", error=f"retrain failed: {type(error).__name__}: "
                                                           f"{error}")
            traceback.print_exc()
            return
        # Kept until the labels given after it say whether it suggests better than the probe.
        self._pending = None if publish else (generation, order, suggestions)
        self.store.update_model(error=None)
        print(f"{utc_now()} generation {generation}: trained on {record['trained_on']} labels in "
              f"{record['train_seconds']} s, ranked the pool in {record['query_seconds']} s "
              f"({time.perf_counter() - started:.1f} s in all)", flush=True)

    def cross_validate(self, generation: int, status: dict[str, Any]) -> None:
        self._cv_done_for = generation
        self.store.update_model(activity="cross-validating", activity_since=utc_now())
        snapshot = self.store.label_snapshot()

        def check() -> None:
            self._between()
            now = time.monotonic()
            if now - self._last_check > 1.0:  # a read per second, not per step
                self._last_check = now
                if self.retrain_due(status):
                    raise _Superseded

        try:
            result = self.model.cross_validate(generation, on_step=check, snapshot=snapshot)
        except _Superseded:
            self._cv_done_for = -1
            self.store.update_model(activity="idle")
            print(f"{utc_now()} cross-validation of generation {generation} stopped: new labels "
                  "call for a retrain", flush=True)
            return
        except ParentGone:
            raise
        except Exception as error:
            self.store.update_model(activity="idle", error=f"cross-validation failed: "
                                                           f"{type(error).__name__}: {error}")
            traceback.print_exc()
            return
        if result:
            oof = result.pop("oof")
            result.update(self.compare_with_probe(generation, snapshot, result["accuracy_folds"],
                                                  result["accuracy"]))
            self.record_evaluation(generation, result, oof)
        self.store.update_model(activity="idle", **(result or {}))
        if result:
            print(f"{utc_now()} generation {generation}: {result['accuracy_folds']}-fold CV accuracy "
                  f"{result['accuracy']:.3f} on {result['accuracy_on']} labels (linear probe: "
                  f"{result.get('probe_accuracy')})", flush=True)

    def record_evaluation(self, generation: int, result: dict[str, Any], oof: dict[str, list[int]]) -> None:
        """Keep the model's out-of-fold predictions (the model view's scores and confusion matrix)
        and add its accuracy, and the probe's on the same folds, to the accuracy history."""
        self.store.set_meta("model_cv", {"generation": generation, "method": self.model.method.preset,
                                         "folds": result["accuracy_folds"], "at": utc_now(), **oof})
        point = {"labels": result["accuracy_on"], "folds": result["accuracy_folds"]}
        self.store.add_accuracy_point({**point, "model": "model", "generation": generation,
                                       "accuracy": result["accuracy"], "f1_macro": result["f1_macro"]})
        if result.get("probe_accuracy") is not None:
            self.store.add_accuracy_point({**point, "model": "probe", "generation": generation,
                                           "accuracy": result["probe_accuracy"], "folds_of": "model"})

    def compare_with_probe(self, generation: int, snapshot: tuple, folds: int,
                           accuracy: float) -> dict[str, Any]:
        """The probe's cross-validated accuracy on the labels and folds the model was just
        cross-validated on (the model view shows both; who suggests is decided on fresh labels,
        :meth:`judge_on_fresh_labels`)."""
        from peftal.label.probe import cv_splitter, learnable
        from peftal.seeding import stream_seed

        ids = np.asarray(snapshot[0], dtype=np.int64)
        targets = self.model.targets(snapshot[1])
        if not self.probe_usable() or not learnable(targets):
            return {}
        self.embedder.ensure(ids)
        splitter = cv_splitter(targets, folds, len(self.settings.labels),
                               stream_seed(self.settings.seed, "generation", generation))
        probe = self.probe.cross_validate(ids, targets, splitter)
        return {"probe_accuracy": round(probe, 4)}

    def probe_usable(self) -> bool:
        """Whether the probe can suggest (its embedding has not failed)."""
        return self.probe is not None and not self._embedding_failed

    def judge_on_fresh_labels(self) -> bool:
        """Decide who suggests from the labels given since the newest model was trained (at least
        :data:`~peftal.label.probe.FRESH_MIN` of them, embedded): the model's decisions against
        the probe's from the labels before each (:func:`~peftal.label.probe.fresh_comparison`);
        hand over either way. Returns whether it judged."""
        latest = self.model.latest if self.model is not None else None
        if latest is None or not self.probe_usable():
            return False
        generation, model, trained = latest
        seen = self._fresh_seen  # no new label: one indexed count per poll, not a read of them all
        if seen is not None and seen[0] == generation and not self.store.new_labels_since(seen[1]):
            return False
        ids, labels, last_seq = self.store.label_snapshot()
        self._fresh_seen = (generation, last_seq)
        known = set(trained.tolist())
        positions = [k for k, i in enumerate(ids) if i not in known and i in self.probe.cache.row]
        if len(positions) < FRESH_MIN:
            return False
        targets = self.probe.targets(labels)
        for k in positions:
            if ids[k] not in self._probe_said:
                self._probe_said[ids[k]] = self.probe.decided_before(ids, targets, k)
        fresh = np.asarray([ids[k] for k in positions], dtype=np.int64)
        result = fresh_comparison(targets[positions], self.model.decisions(model, fresh),
                                  np.stack([self._probe_said[int(i)] for i in fresh]))
        status = self.store.get_meta("model", {})
        if status.get("fresh") != {**result, "generation": generation}:
            self.store.update_model(fresh={**result, "generation": generation},
                                    beats_probe=result["beats_probe"])
            print(f"{utc_now()} generation {generation} on the {result['labels']} labels given since "
                  f"it was trained: right on {result['model_right']}, the linear probe on "
                  f"{result['probe_right']}", flush=True)
        self.hand_over(generation)
        return True

    def hand_over(self, generation: int) -> None:
        """Publish the model's ranking once it beats the probe; give the ranking back to the probe
        when a later model does not."""
        status = self.store.get_meta("model", {})
        suggester = self.store.get_meta("ranking", {}).get("suggester")
        if model_suggests(status):
            if suggester != "model" and self._pending is not None and self._pending[0] == generation:
                _, order, suggestions = self._pending
                self.store.publish_ranking(order, suggestions, suggester="model")
                print(f"{utc_now()} model {generation} now suggests (it beats the linear probe)",
                      flush=True)
            self._pending = None
        elif suggester == "model":
            self.update_probe(force=True)

    def kmeans_cold_start(self) -> None:
        """Put a diverse first batch at the top of the ranking, once, before any model exists."""
        status = self.store.get_meta("model", {})
        if int(status.get("generation", 0)) > 0 or status.get("cold_start") == "kmeans":
            return
        self.store.update_model(activity="clustering embeddings")
        order = self.model.kmeans_order(self._cached_vectors)
        status.update(cold_start="kmeans", activity="idle")
        self.store.publish_ranking(order, {}, status, suggester=None)
        print(f"{utc_now()} k-means cold start: {len(order)} diverse examples first", flush=True)

    def _cached_vectors(self, ids: np.ndarray) -> np.ndarray:
        """Frozen embeddings of ``ids`` from the cache, embedding (and keeping) what is missing."""
        self.embedder.ensure(ids, between=self._check_parent)
        return self.embedder.cache.get(ids)

    def _check_parent(self) -> None:
        if not self.parent_alive():
            raise ParentGone


class _Superseded(Exception):
    """Cross-validation stopped because a retrain is due."""


def _die_with_parent(parent_pid: int) -> None:
    """Ask Linux to kill this process when the server exits (PR_SET_PDEATHSIG = 1)."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)
    except OSError:
        pass  # not Linux: the worker still notices between steps via its parent pid
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        sys.exit(0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m peftal.label.worker")
    parser.add_argument("project", type=Path)
    parser.add_argument("--parent", type=int, required=True)
    args = parser.parse_args(argv)
    _die_with_parent(args.parent)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    if "OMP_NUM_THREADS" not in os.environ:
        import torch

        # Leave a core to the server and the annotators' browser. On a busy 2-core machine one
        # thread also trains several times faster than two that spin-wait for each other
        # (docs/labelling.md, "Performance").
        torch.set_num_threads(max(1, (os.cpu_count() or 2) - 1))
    from peftal.console import quiet_libraries

    quiet_libraries()
    store, settings = open_project(args.project)
    Worker(store, settings, parent_pid=args.parent).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())

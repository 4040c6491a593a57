// The model view: per-label scores and confusion matrices from out-of-fold predictions, the
// accuracy curve and each annotator's labels, all from GET /api/model-view (docs/labelling.md).
// Values are inserted with textContent only.
"use strict";

const $ = (id) => document.getElementById(id);
const COLOURS = { probe: "#7a6a2b", model: "#2b5f9e" };

function cell(tag, text, attributes = {}) {
  const element = document.createElement(tag);
  element.textContent = text;
  Object.entries(attributes).forEach(([key, value]) => element.setAttribute(key, value));
  return element;
}

function row(cells) {
  const tr = document.createElement("tr");
  tr.append(...cells);
  return tr;
}

const fixed = (value) => (value === null || value === undefined ? "n/a" : value.toFixed(3));

function evaluation(view, labels, suggester) {
  const section = document.createElement("section");
  section.className = "evaluation";
  section.dataset.model = view.model;
  const now = view.model === suggester ? " — suggests now" : "";
  section.append(cell("h2", `${view.name}${now}`));
  if (view.accuracy === undefined) {
    section.append(cell("p", `No scores yet: ${view.reason || "too few labels"}.`, { class: "note" }));
    return section;
  }
  const on = view.model === "probe"
    ? `${view.labels} labels` + (view.labels_given > view.labels
      ? ` (of ${view.labels_given} given; the others are not embedded yet)` : "")
    : `the ${view.labels} labels given by then`;
  const accuracy = view.confusion === null ? "subset accuracy (the whole label set right)" : "accuracy";
  section.append(cell("p", `${view.folds}-fold cross-validation on ${on}: ${accuracy} ` +
    `${(100 * view.accuracy).toFixed(1)}%, macro F1 ${fixed(view.f1_macro)}.`, { class: "note" }));
  const scores = document.createElement("table");
  scores.className = "scores";
  scores.append(row(["label", "precision", "recall", "F1", "support"].map((h) => cell("th", h))));
  view.per_label.forEach((entry) => scores.append(row([
    cell("td", entry.label), cell("td", fixed(entry.precision)), cell("td", fixed(entry.recall)),
    cell("td", fixed(entry.f1)), cell("td", String(entry.support))])));
  section.append(scores);
  if (view.confusion === null) return section;  // multi-label: each label is its own yes/no
  const matrix = document.createElement("table");
  matrix.className = "confusion";
  matrix.append(cell("caption", "Confusion matrix: rows the label given, columns the label predicted"));
  matrix.append(row([cell("th", "given \\ predicted"), ...labels.map((label) => cell("th", label))]));
  view.confusion.forEach((counts, given) => matrix.append(row([cell("th", labels[given]),
    ...counts.map((count, predicted) => cell("td", String(count), {
      "data-given": labels[given], "data-predicted": labels[predicted],
      class: count === 0 ? "zero" : (given === predicted ? "hit" : "miss") }))])));
  section.append(matrix);
  return section;
}

function drawHistory(points) {
  const svg = $("history");
  const ns = "http://www.w3.org/2000/svg";
  svg.replaceChildren();
  if (!points.length) {
    const text = document.createElementNS(ns, "text");
    text.setAttribute("x", "20"); text.setAttribute("y", "120");
    text.textContent = "No point yet: the probe is scored here once texts are embedded and labelled.";
    svg.append(text);
    return;
  }
  const maxLabels = Math.max(...points.map((p) => p.labels));
  const x = (labels) => 40 + (580 * labels) / Math.max(1, maxLabels);
  const y = (accuracy) => 220 - 200 * accuracy;
  [0, 0.5, 1].forEach((level) => {
    const tick = document.createElementNS(ns, "text");
    tick.setAttribute("x", "2"); tick.setAttribute("y", String(y(level) + 4));
    tick.textContent = `${100 * level}%`;
    svg.append(tick);
  });
  ["probe", "model"].forEach((model) => {
    const mine = points.filter((p) => p.model === model && !p.folds_of).sort((a, b) => a.labels - b.labels);
    const series = mine.length ? mine : points.filter((p) => p.model === model);
    if (!series.length) return;
    const line = document.createElementNS(ns, "polyline");
    line.setAttribute("points", series.map((p) => `${x(p.labels)},${y(p.accuracy)}`).join(" "));
    line.setAttribute("fill", "none");
    line.setAttribute("stroke", COLOURS[model]);
    line.setAttribute("stroke-width", "2");
    line.dataset.model = model;
    svg.append(line);
    series.forEach((p) => {  // a dot per point: a single point draws no line
      const dot = document.createElementNS(ns, "circle");
      dot.setAttribute("cx", String(x(p.labels)));
      dot.setAttribute("cy", String(y(p.accuracy)));
      dot.setAttribute("r", "3");
      dot.setAttribute("fill", COLOURS[model]);
      const title = document.createElementNS(ns, "title");
      title.textContent = `${model}: ${(100 * p.accuracy).toFixed(1)}% on ${p.labels} labels`;
      dot.append(title);
      svg.append(dot);
    });
  });
  ["probe", "model"].filter((model) => points.some((p) => p.model === model)).forEach((model, k) => {
    const key = document.createElementNS(ns, "text");
    key.setAttribute("x", String(60 + 160 * k)); key.setAttribute("y", "14");
    key.setAttribute("fill", COLOURS[model]);
    key.textContent = model === "probe" ? "— linear probe" : "— PEFT model";
    svg.append(key);
  });
  const end = document.createElementNS(ns, "text");
  end.setAttribute("x", "560"); end.setAttribute("y", "238");
  end.textContent = `${maxLabels} labels`;
  svg.append(end);
}

function render(data) {
  const labels = data.label_names;
  $("suggester").textContent = data.suggester === "model" ? "The PEFT model suggests now."
    : data.suggester === "probe" ? "The linear probe suggests now." : "Nothing suggests yet.";
  $("evaluations").replaceChildren(...data.evaluations.map((view) => evaluation(view, labels, data.suggester)));
  drawHistory(data.history);
  $("history-rows").replaceChildren(...data.history.map((p) => row([
    cell("td", String(p.labels)), cell("td", p.model + (p.generation ? ` #${p.generation}` : "") +
      (p.folds_of ? " (the model's folds)" : "")),
    cell("td", `${(100 * p.accuracy).toFixed(1)}%`), cell("td", String(p.folds)), cell("td", p.at)])));
  $("annotators-head").replaceChildren(row(["annotator", ...labels, "total"].map((h) => cell("th", h))));
  $("annotators-rows").replaceChildren(...Object.entries(data.annotators).map(([name, counts]) => row([
    cell("th", name), ...labels.map((label) => cell("td", String(counts[label]))), cell("td", String(counts.total))])));
  document.body.dataset.state = "ready";
}

async function refresh() {
  const response = await fetch("/api/model-view");
  if (!response.ok) return;
  render(await response.json());
}

async function init() {
  const project = await fetch("/api/project");
  if (project.ok) $("project-name").textContent = (await project.json()).name;
  await refresh();
  setInterval(refresh, 10000);
}

init();

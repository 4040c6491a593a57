// The reviewer's page: disagreements and the labels the probe contradicts, each with its history;
// a label button sets the text's final label (POST /api/resolve). Texts are inserted with
// textContent, never as HTML.
"use strict";

const $ = (id) => document.getElementById(id);
const state = { project: null, reviewer: "", busy: false, refreshes: 0 };

function say(text, kind = "") {
  $("message").textContent = text;
  $("message").className = kind;
}

async function api(method, path, body) {
  const options = { method, headers: {} };
  if (body !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  const response = await fetch(path, options);
  let data = null;
  try { data = await response.json(); } catch (error) { data = { error: response.statusText }; }
  return { status: response.status, ok: response.ok, data };
}

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

// A multi-label project stores a label set as the JSON list of its names (peftal/label/label_sets.py).
function shown(value) {
  if (!state.project.multi_label) return value;
  const names = JSON.parse(value);
  return names.length ? names.join(", ") : "none of the labels";
}

function historyList(item) {
  const list = element("ul", "history");
  item.annotations.forEach((a) => {
    const entry = element("li", a.undone_at ? "undone" : "");
    entry.append(element("strong", "", a.annotator), `: ${shown(a.label)} `, element("time", "", a.labelled_at));
    if (a.undone_at) entry.append(` (withdrawn ${a.undone_at})`);
    list.append(entry);
  });
  if (item.review) {
    const entry = element("li", "reviewed");
    entry.append("review by ", element("strong", "", item.review.by), `: ${shown(item.review.label)} `,
      element("time", "", item.review.at));
    list.append(entry);
  }
  return list;
}

function card(item, extra) {
  const box = element("article", "review-item");
  box.dataset.id = String(item.id);
  box.append(element("p", "text", item.text));
  if (item.text_pair !== undefined) box.append(element("p", "text-pair", item.text_pair));
  if (extra) box.append(extra);
  box.append(historyList(item));
  const buttons = element("div", "resolve");
  const given = new Set(item.annotations.filter((a) => !a.undone_at).map((a) => a.label));
  // Multi-label: the choices are the sets given and the one the model says, each as given.
  const choices = state.project.multi_label
    ? [...new Set([...given, ...(item.alternative ? [item.alternative.label] : [])])]
    : state.project.labels;
  choices.forEach((label) => {
    const button = element("button", given.has(label) ? "label given" : "label", shown(label));
    button.type = "button";
    button.dataset.label = label;
    button.addEventListener("click", () => resolve(item.id, label));
    buttons.append(button);
  });
  box.append(buttons);
  return box;
}

function percent(p) { return `${Math.round(100 * p)}%`; }

async function refresh() {
  // Only the latest refresh draws: an older one answered late would bring back a resolved text.
  const ticket = ++state.refreshes;
  const answer = await api("GET", "/api/review");
  if (ticket !== state.refreshes) return;
  if (!answer.ok) { say(answer.data.error, "bad"); return; }
  const { disagreements, contradictions } = answer.data;
  $("disagreements-count").textContent = `(${disagreements.total})`;
  $("disagreement-items").replaceChildren(...disagreements.items.map((item) => card(item)));
  if (!disagreements.total) $("disagreement-items").append(element("p", "empty", "No disagreements left."));
  $("contradictions-count").textContent = `(${contradictions.total})`;
  $("contradictions-note").textContent = contradictions.reason
    ? contradictions.reason
    : `Out-of-fold probabilities of the ${contradictions.model}, ${contradictions.folds}-fold ` +
      `cross-validation on ${contradictions.embedded_labels} labels; most confident first.`;
  $("contradiction-items").replaceChildren(...contradictions.items.map((item) => card(item,
    element("p", "dispute", `Labelled ${shown(item.disputed.label)} (${percent(item.disputed.probability)}); ` +
      `the model says ${shown(item.alternative.label)} (${percent(item.alternative.probability)})`))));
  document.body.dataset.state = "ready";
}

async function resolve(id, label) {
  if (state.busy || !state.reviewer) { if (!state.reviewer) say("Type your name first.", "bad"); return; }
  state.busy = true;
  document.body.dataset.state = "busy";
  try {
    const body = state.project.multi_label ? { id, labels: JSON.parse(label), reviewer: state.reviewer }
      : { id, label, reviewer: state.reviewer };
    const answer = await api("POST", "/api/resolve", body);
    if (answer.ok) say(`Text ${id} resolved: ${shown(label)}.`, "good");
    else say(answer.data.error, "bad");
    await refresh();
  } catch (error) {
    say(`Server unreachable: ${error}`, "bad");
  } finally {
    state.busy = false;
  }
}

function begin(name) {
  state.reviewer = name.trim();
  localStorage.setItem("peftal.reviewer", state.reviewer);
  $("reviewer").value = state.reviewer;
  $("who-save").textContent = "Change";
  say(`Reviewing as ${state.reviewer}.`);
}

async function init() {
  const answer = await api("GET", "/api/project");
  state.project = answer.data;
  document.title = `peftal review · ${state.project.name}`;
  $("project-name").textContent = state.project.name;
  $("who").addEventListener("submit", (event) => {
    event.preventDefault();
    if ($("reviewer").value.trim()) begin($("reviewer").value);
  });
  const saved = localStorage.getItem("peftal.reviewer");
  if (saved) begin(saved); else say("Type your name to resolve texts.");
  await refresh();
  setInterval(() => { if (!state.busy) refresh(); }, 5000);
}

init();

// The labelling page: one text at a time, one button per label (a check box per label and Save in a
// multi-label project), shortcuts 1-9 / Enter / u / s;
// a search whose results can be picked to label.
// It talks only to the JSON API (docs/labelling.md). Texts are inserted with textContent, never
// as HTML, so a text in the data cannot run script in the page (the guidelines are the one
// exception: HTML the server renders safely from the project's Markdown).
"use strict";

const $ = (id) => document.getElementById(id);
const state = { project: null, annotator: "", current: null, busy: false, agreementAt: -1, touched: false };

function setState(name) { document.body.dataset.state = name; }

function say(text, kind = "") {
  const message = $("message");
  message.textContent = text;
  message.className = kind;
}

async function api(method, path, body) {
  const options = { method, headers: {} };
  if (body !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  const response = await fetch(path, options);
  let data = null;
  if (response.status !== 204) {
    try { data = await response.json(); } catch (error) { data = { error: response.statusText }; }
  }
  return { status: response.status, ok: response.ok, data };
}

// A multi-label project stores a text's labels as the JSON list of their names (peftal/label/
// label_sets.py): a suggestion arrives in that form.
function suggestedSet(item) {
  return item && item.suggestion ? JSON.parse(item.suggestion) : [];
}

function describeLabel(value) {
  if (!state.project.multi_label) return value;
  const names = JSON.parse(value);
  return names.length ? names.join(", ") : "none of the labels";
}

function buildCheckboxes(labels) {
  // Multi-label: a check box per label (keys 1-9 toggle them), and Save (Enter) sends the set.
  const box = $("buttons");
  box.replaceChildren();
  labels.forEach((label, index) => {
    const choice = document.createElement("label");
    choice.className = "label choice";
    const input = document.createElement("input");
    input.type = "checkbox";
    input.className = "choice";
    input.dataset.label = label;
    input.tabIndex = -1;  // the keys act on the text on screen, never on a focused box
    input.addEventListener("change", () => { state.touched = true; input.blur(); });  // keys keep working
    choice.append(input, " ");
    if (index < 9) {
      const key = document.createElement("kbd");
      key.textContent = String(index + 1);
      choice.append(key, " ");
    }
    choice.append(label);
    box.append(choice);
  });
  const save = document.createElement("button");
  save.type = "button";
  save.id = "save";
  save.append(Object.assign(document.createElement("kbd"), { textContent: "Enter" }), " Save");
  save.addEventListener("click", () => submit(checkedSet()));
  box.append(save);
}

function checkedSet() {
  return [...document.querySelectorAll("input.choice")].filter((box) => box.checked)
    .map((box) => box.dataset.label);
}

function setChecked(names) {
  document.querySelectorAll("input.choice").forEach((box) => { box.checked = names.includes(box.dataset.label); });
}

function toggle(label) {
  const box = document.querySelector(`input.choice[data-label="${CSS.escape(label)}"]`);
  if (box && state.current) { box.checked = !box.checked; state.touched = true; }
}

function buildButtons(labels) {
  if (state.project.multi_label) { buildCheckboxes(labels); return; }
  const box = $("buttons");
  box.replaceChildren();
  labels.forEach((label, index) => {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "label";
    button.dataset.label = label;
    if (index < 9) {
      const key = document.createElement("kbd");
      key.textContent = String(index + 1);
      button.append(key, " ");
    }
    button.append(label);
    button.addEventListener("click", () => submit(label));
    box.append(button);
  });
}

function renderSuggestion(item) {
  const suggestion = $("suggestion");
  document.querySelectorAll(".label").forEach((b) => b.classList.remove("suggested"));
  if (state.project.multi_label) {
    // The boxes start at the suggestion (Enter accepts it, as in a single-label project); a new
    // suggestion for the text on screen moves them too, unless the annotator has changed one.
    const names = suggestedSet(item);
    if (!state.touched) setChecked(names);
    suggestion.dataset.labels = JSON.stringify(names);
    names.forEach((name) => {
      const box = document.querySelector(`input.choice[data-label="${CSS.escape(name)}"]`);
      if (box) box.closest("label").classList.add("suggested");
    });
  }
  if (item.suggestion === null || item.suggestion === undefined) {
    suggestion.hidden = true;
    suggestion.textContent = "";
    return;
  }
  const strong = document.createElement("strong");
  strong.textContent = describeLabel(item.suggestion);
  const source = item.suggested_by === "probe" ? "linear probe" : `model #${item.generation}`;
  suggestion.replaceChildren("Suggested: ", strong,
    ` (${Math.round(100 * item.confidence)}% confident, ${source}) · Enter accepts` +
    (state.project.multi_label ? " the boxes checked" : ""));
  suggestion.hidden = false;
  if (state.project.multi_label) return;
  const button = document.querySelector(`button.label[data-label="${CSS.escape(item.suggestion)}"]`);
  if (button) button.classList.add("suggested");
}

function show(item) {
  state.current = item;
  state.touched = false;
  const card = $("card");
  document.querySelectorAll(".label").forEach((b) => b.classList.remove("suggested"));
  if (!item) {
    card.hidden = true;
    $("text").dataset.id = "";
    setState("done");
    say("Nothing left to label for you. Thank you! (Export with `peftal label export`.)", "good");
    return;
  }
  card.hidden = false;
  $("text").textContent = item.text;
  $("text").dataset.id = String(item.id);
  const pair = $("text-pair");
  pair.hidden = item.text_pair === undefined;
  pair.textContent = item.text_pair || "";
  renderSuggestion(item);
  setState("ready");
}

async function loadNext() {
  setState("busy");
  const answer = await api("POST", "/api/next", { annotator: state.annotator });
  if (answer.status === 204) { show(null); return; }
  if (!answer.ok) { say(answer.data.error, "bad"); setState("error"); return; }
  show(answer.data);
}

async function guarded(action) {
  // One request at a time: a key pressed while a label is being saved is ignored, never queued
  // onto the wrong text.
  if (state.busy || !state.annotator) return;
  state.busy = true;
  try { await action(); } catch (error) { say(`Server unreachable: ${error}`, "bad"); setState("error"); }
  finally { state.busy = false; }
}

function submit(label) {
  guarded(async () => {
    if (!state.current) return;
    setState("busy");
    const item = state.current;
    const body = state.project.multi_label ? { id: item.id, labels: label, annotator: state.annotator }
      : { id: item.id, label, annotator: state.annotator };
    const answer = await api("POST", "/api/label", body);
    if (answer.ok) {
      say(`Saved “${state.project.multi_label ? describeLabel(JSON.stringify(label)) : label}”.`, "good");
    } else if (answer.status === 409) {
      say(answer.data.error, "bad");  // someone else has it: move on
    } else {
      say(answer.data.error, "bad");
      setState("ready");
      return;
    }
    await loadNext();
    refreshStats();
    if ($("search-results").childElementCount) runSearch();  // the text labelled leaves the results
  });
}

function undo() {
  guarded(async () => {
    setState("busy");
    const answer = await api("POST", "/api/undo", { annotator: state.annotator });
    if (!answer.ok) { say(answer.data.error, "bad"); setState(state.current ? "ready" : "done"); return; }
    show(answer.data.example);
    if (state.project.multi_label) {  // the set withdrawn, to change rather than redo
      setChecked(JSON.parse(answer.data.example.undone_label));
      state.touched = true;
    }
    say(`Undid “${describeLabel(answer.data.example.undone_label)}”: label this text again.`);
    refreshStats();
  });
}

function skip() {
  guarded(async () => {
    if (!state.current) return;
    setState("busy");
    const answer = await api("POST", "/api/skip", { id: state.current.id, annotator: state.annotator });
    if (!answer.ok) { say(answer.data.error, "bad"); setState("ready"); return; }
    say("Skipped.");
    await loadNext();
  });
}

function describeSuggester(stats) {
  const ranking = stats.ranking || {};
  const embedding = stats.embedding;
  let progress = embedding && embedding.embedded < embedding.pool
    ? ` (${embedding.embedded} of ${embedding.pool} texts embedded so far)` : "";
  if (embedding && embedding.error) progress += ` · ⚠ embedding stopped: ${embedding.error}`;
  if (ranking.suggester === "probe" && stats.probe) {
    return `suggestions: linear probe on ${stats.probe.labels} labels${progress}`;
  }
  if (ranking.suggester === "model") {
    return `suggestions: model #${stats.model.generation} (${stats.model.method})${progress}`;
  }
  return `no suggestions yet${progress}`;
}

function describeModel(stats) {
  const model = stats.model;
  const parts = [describeSuggester(stats)];
  if (stats.trainer && !stats.trainer.running) {
    parts.push(`trainer stopped (exit ${stats.trainer.exit_code}); see trainer.log in the project`);
  }
  if (model.status === "ready") {
    parts.push(`model #${model.generation} trained on ${model.trained_on} labels`);
    if (model.accuracy !== undefined && model.accuracy !== null) {
      parts.push(`accuracy ${(100 * model.accuracy).toFixed(1)}% ` +
        `(${model.accuracy_folds}-fold cross-validation on ${model.accuracy_on} labels)`);
    }
    if (model.probe_accuracy !== undefined && model.probe_accuracy !== null) {
      parts.push(`linear probe ${(100 * model.probe_accuracy).toFixed(1)}% on the same labels`);
    }
    const fresh = model.fresh;
    if (fresh && fresh.generation === model.generation) {
      parts.push(`on the ${fresh.labels} labels since: model right ${fresh.model_right}, ` +
        `probe ${fresh.probe_right}`);
    }
  } else {
    parts.push(`no model yet: ${model.cold_start === "kmeans" ? "diverse (k-means)" : "random"} order`);
  }
  if (model.activity === "off") parts.push("no background trainer");
  else if (model.activity && model.activity !== "idle") parts.push(`${model.activity}…`);
  else parts.push(`next retrain after ${stats.labels_until_retrain} more labels`);
  if (model.error) parts.push(`⚠ ${model.error}`);
  return parts.join(" · ");
}

async function refreshStats() {
  let answer;
  try { answer = await api("GET", "/api/stats"); } catch (error) { return; }
  if (!answer.ok) return;
  const stats = answer.data;
  $("count").textContent = `${stats.labelled} / ${stats.budget} labelled`;
  $("bar-fill").style.width = `${Math.min(100, (100 * stats.labelled) / Math.max(1, stats.budget))}%`;
  $("model-status").textContent = describeModel(stats);
  $("model-status").dataset.generation = String(stats.model.generation || 0);
  const version = (stats.ranking && stats.ranking.version) || 0;
  if (state.current && state.current.ranking_version < version) refreshSuggestion();
  refreshAgreement(stats);
}

function formatted(value) { return value === null ? "n/a" : value.toFixed(3); }

function tableRow(cells) {
  const row = document.createElement("tr");
  cells.forEach((text) => { const cell = document.createElement("td"); cell.textContent = text; row.append(cell); });
  return row;
}

async function refreshAgreement(stats) {
  // Shown when several annotators label the same texts (--overlap); read again only after new labels.
  if (!stats.overlap && !stats.multiple) return;
  if (state.agreementAt === stats.annotations) return;
  const answer = await api("GET", "/api/agreement");
  if (!answer.ok) return;
  state.agreementAt = stats.annotations;
  const data = answer.data;
  const section = $("agreement");
  section.hidden = false;
  section.dataset.alpha = data.alpha === null ? "" : String(data.alpha);
  $("agreement-summary").textContent = data.texts
    ? `Agreement: Krippendorff's α ${formatted(data.alpha)} on ${data.texts} texts labelled more than once` +
      (stats.unresolved ? ` · ${stats.unresolved} ties left out of training until reviewed` : "")
    : `Agreement: no text labelled by two annotators yet (${Math.round(100 * data.overlap)}% of the texts go to two)`;
  $("kappa-rows").replaceChildren(...data.pairs.map((pair) => tableRow([
    pair.annotators.join(" / "), String(pair.texts), `${(100 * pair.observed).toFixed(1)}%`, formatted(pair.kappa)])));
  $("alpha-rows").replaceChildren(tableRow(["(all labels)", formatted(data.alpha)]),
    ...Object.entries(data.alpha_per_label).map(([label, value]) => tableRow([label, formatted(value)])));
}

async function refreshSuggestion() {
  // A new model: read the suggestion for the text on screen, without blocking the keys.
  const item = state.current;
  if (!item) return;
  const answer = await api("GET", `/api/example/${item.id}`);
  if (answer.ok && state.current === item) {  // still on screen: only its suggestion changes
    Object.assign(item, { suggestion: answer.data.suggestion, confidence: answer.data.confidence,
                          generation: answer.data.generation, suggested_by: answer.data.suggested_by,
                          ranking_version: answer.data.ranking_version });
    renderSuggestion(item);
  }
}

// -- find and filter: the results are texts to pick; a pick is leased like /api/next's text ----

function searchArgs() {
  const args = new URLSearchParams({ q: $("search-q").value, regex: $("search-regex").checked ? "1" : "0",
                                     status: $("search-status").value });
  if ($("search-suggested").value) args.set("suggested", $("search-suggested").value);
  if ($("search-min").value !== "") args.set("min_confidence", String(Number($("search-min").value) / 100));
  if ($("search-max").value !== "") args.set("max_confidence", String(Number($("search-max").value) / 100));
  return args;
}

async function runSearch() {
  const answer = await api("GET", `/api/search?${searchArgs()}`);
  const results = $("search-results");
  if (!answer.ok) { $("search-summary").textContent = answer.data.error; results.replaceChildren(); return; }
  const data = answer.data;
  $("search-summary").textContent = `${data.total} text${data.total === 1 ? "" : "s"} match` +
    (data.total > data.items.length ? `; the first ${data.items.length} in the order they would come:` : ":");
  $("search-summary").dataset.total = String(data.total);
  results.replaceChildren(...data.items.map((item) => {
    const entry = document.createElement("li");
    const button = document.createElement("button");
    button.type = "button";
    button.className = "found";
    button.dataset.id = String(item.id);
    button.textContent = item.text_pair === undefined ? item.text : `${item.text} / ${item.text_pair}`;
    const notes = [];
    if (item.suggestion !== null && item.suggestion !== undefined) {
      notes.push(`suggested ${describeLabel(item.suggestion)} (${Math.round(100 * item.confidence)}%)`);
    }
    if (item.labelled) notes.push("labelled");
    if (item.leased_by && item.leased_by !== state.annotator) notes.push(`being labelled by ${item.leased_by}`);
    const note = document.createElement("small");
    note.textContent = notes.join(" · ");
    button.disabled = Boolean(item.leased_by && item.leased_by !== state.annotator);
    button.addEventListener("click", () => pick(item.id));
    entry.append(button, " ", note);
    return entry;
  }));
}

function pick(exampleId) {
  // The same lease as /api/next's: nobody else is handed this text while it is on screen.
  guarded(async () => {
    setState("busy");
    const answer = await api("POST", "/api/take", { id: exampleId, annotator: state.annotator });
    if (!answer.ok) { say(answer.data.error, "bad"); setState(state.current ? "ready" : "done"); return; }
    if (document.activeElement instanceof HTMLElement) document.activeElement.blur();
    show(answer.data);
    say(`Text ${exampleId} found: label it (the text you were on comes back after).`);
  });
}

function setUpSearch(labels) {
  labels.forEach((label) => {
    const option = document.createElement("option");
    option.value = label;
    option.textContent = label;
    $("search-suggested").append(option);
  });
  $("search").addEventListener("submit", (event) => { event.preventDefault(); runSearch(); });
}

function onKey(event) {
  if (event.target instanceof HTMLInputElement || event.target instanceof HTMLSelectElement) return;
  if (event.target instanceof Element && event.target.closest("#find")) return;  // keys of the search
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  if (!state.project) return;
  if (/^[1-9]$/.test(event.key)) {
    const label = state.project.labels[Number(event.key) - 1];
    if (label === undefined) return;
    event.preventDefault();
    if (state.project.multi_label) toggle(label); else submit(label);
  } else if (event.key === "Enter" || event.key === " ") {
    // Accept the suggestion shown (multi-label: the boxes checked); never also "click" a focused button.
    event.preventDefault();
    if (state.project.multi_label) submit(checkedSet());
    else if (state.current && state.current.suggestion) submit(state.current.suggestion);
  } else if (event.key === "u") { event.preventDefault(); undo(); }
  else if (event.key === "s") { event.preventDefault(); skip(); }
}

function begin(name) {
  state.annotator = name.trim();
  localStorage.setItem("peftal.annotator", state.annotator);
  $("annotator").value = state.annotator;
  $("annotator").blur();
  if (document.activeElement instanceof HTMLElement) document.activeElement.blur();
  $("who-save").textContent = "Change";
  say(`Labelling as ${state.annotator}.`);
  guarded(loadNext);
}

async function showGuidelines() {
  // Rendered by the server from Markdown with raw HTML off (peftal/label/guidelines.py): the one
  // place where the page inserts HTML, and none of it comes from the data or the annotators.
  const answer = await api("GET", "/api/guidelines");
  if (!answer.ok || answer.data.html === null) return;
  $("guidelines-body").innerHTML = answer.data.html;
  $("guidelines").hidden = false;
  document.body.classList.add("has-guidelines");
}

async function init() {
  showGuidelines();
  const answer = await api("GET", "/api/project");
  state.project = answer.data;
  document.title = `peftal label · ${state.project.name}`;
  $("project-name").textContent = state.project.name;
  buildButtons(state.project.labels);
  setUpSearch(state.project.labels);
  $("undo").addEventListener("click", undo);
  $("skip").addEventListener("click", skip);
  document.addEventListener("keydown", onKey);
  await refreshStats();
  setInterval(refreshStats, 1000);  // a new suggestion for the text on screen shows within a second
  const saved = localStorage.getItem("peftal.annotator");
  if (saved) begin(saved);
  else { setState("name"); say("Type your name to start."); $("annotator").focus(); }
}

// The name form's handler is attached in the script's own task, before any answer init() awaits can
// arrive: a name entered while the project is still loading (a slow server) starts labelling once it
// has loaded instead of submitting the form and reloading the page.
const loaded = init();
$("who").addEventListener("submit", (event) => {
  event.preventDefault();
  const name = $("annotator").value.trim();
  if (name) loaded.then(() => begin(name));
});

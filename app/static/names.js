// The generated names: a grid of cards (choose one to score it, copy one), and what can be done with them all.

import { samplingNote } from "./errors.js";
import { scoreText } from "./score.js";
import { state } from "./state.js";
import { $, copyText, download } from "./ui.js";

function copyIcon() {
  return $("copy-icon").content.firstElementChild.cloneNode(true);
}

function say(message) {
  const status = $("copy-status");
  status.textContent = message;
  clearTimeout(say.timer);
  say.timer = setTimeout(() => { status.textContent = ""; }, 4000);
}

async function copyOne(name) {
  say(await copyText(name) ? `Copied “${name}”.` : `Could not copy: select “${name}” and copy it by hand.`);
}

// How many columns each card takes: as many as its name needs to sit on one line (a name wider than the whole
// list takes it all and wraps, between any letters: it has no spaces). Then, where a card would not fit in
// what is left of a row, the card before it widens to the row's end: no holes, and the API's order kept.
function columnSpans(needs, columns, step) {
  const spans = needs.map((over) => Math.min(columns, 1 + Math.max(0, Math.ceil(over / step - 1e-3))));
  let used = 0; // columns taken in the current row
  spans.forEach((span, i) => {
    if (used + span > columns) spans[i - 1] += columns - used;
    used = used + span > columns ? span : used + span;
    if (used === columns) used = 0;
  });
  return spans;
}

export function fitNames() {
  const list = $("names");
  const items = [...list.children];
  for (const item of items) {
    item.style.removeProperty("--span");
    item.classList.remove("wraps");
  }
  const style = getComputedStyle(list);
  const tracks = style.gridTemplateColumns.split(" ").map(parseFloat);
  if (!items.length || !(tracks[0] > 0)) return;
  // All reads at one column each, then all writes: one layout, however many names.
  const needs = items.map((item) => {
    const text = item.querySelector(".name-text");
    return text.scrollWidth - text.clientWidth;
  });
  const step = tracks[0] + (parseFloat(style.columnGap) || 0); // what one more column adds to a card
  const spans = columnSpans(needs, tracks.length, step);
  items.forEach((item, i) => {
    if (spans[i] > 1) item.style.setProperty("--span", String(spans[i]));
    if (needs[i] > (tracks.length - 1) * step) item.classList.add("wraps");
  });
}

function nameCard(sample) {
  const item = document.createElement("li");
  item.setAttribute("data-testid", "name");
  item.dataset.name = sample.name;
  const button = document.createElement("button");
  button.type = "button";
  button.className = "name-button";
  button.setAttribute("aria-pressed", String(sample.name === state.scoredText));
  button.setAttribute("aria-describedby", "names-hint");
  const text = document.createElement("span");
  text.className = "name-text";
  text.textContent = sample.name || "(empty)";
  const meta = document.createElement("span");
  meta.className = "name-meta";
  if (typeof sample.novel === "boolean") {
    const badge = document.createElement("span");
    badge.className = `badge ${sample.novel ? "new" : "known"}`;
    badge.textContent = sample.novel ? "new" : "known";
    badge.title = sample.novel ? "Invented: not in the training data" : "Already in the training data";
    item.dataset.novel = String(sample.novel);
    meta.append(badge);
  }
  if (typeof sample.distance === "number") { // asked for names like a given one: how far this one is
    const distance = document.createElement("span");
    distance.className = "distance";
    distance.textContent = `${sample.distance} ${sample.distance === 1 ? "edit" : "edits"}`;
    distance.title = "Letters added, removed, changed or swapped to get here from the name to be like";
    item.dataset.distance = String(sample.distance);
    meta.append(distance);
  }
  if (typeof sample.log_prob === "number") {
    const logProb = document.createElement("span");
    logProb.className = "logprob";
    logProb.textContent = `log p ${sample.log_prob.toFixed(1).replace("-", "−")}`;
    logProb.title = "Log-probability of the whole name, end token included (nats)";
    meta.append(logProb);
  }
  button.append(text, meta);
  button.addEventListener("click", () => {
    $("score-input").value = sample.name;
    scoreText(sample.name, { reveal: true, from: button });
  });
  const copy = document.createElement("button");
  copy.type = "button";
  copy.className = "copy-one";
  copy.setAttribute("aria-label", `Copy ${sample.name}`);
  copy.title = "Copy this name";
  copy.append(copyIcon());
  copy.addEventListener("click", () => copyOne(sample.name));
  item.append(button, copy);
  return item;
}

export function renderNames(data) {
  const samples = Array.isArray(data.samples) && data.samples.length === data.names.length
    ? data.samples
    : data.names.map((name) => ({ name }));
  state.samples = samples;
  state.samplesModel = data.model || null;
  $("names").dataset.model = data.model || "";
  $("names").replaceChildren(...samples.map(nameCard));
  fitNames();
  $("names-empty").hidden = true; // the status line now says how many came back, zero included
  $("names-legend").hidden = !samples.some((s) => typeof s.novel === "boolean");
  $("legend-distance").hidden = !samples.some((s) => typeof s.distance === "number");
  const drawn = new Set((data.notes || []).map(samplingNote));
  $("legend-steered").hidden = !drawn.has("steered") || drawn.has("resampled") || samples.length === 0;
  $("names-tools").hidden = samples.length === 0;
}

// The model changed: the names shown are another model's, so they go.
export function removeNames() {
  state.samples = [];
  state.samplesModel = null;
  $("names").replaceChildren();
  delete $("names").dataset.model;
  $("names-empty").hidden = false;
  $("names-legend").hidden = true;
  $("names-tools").hidden = true;
}

function csvField(value) {
  const text = value === undefined || value === null ? "" : String(value);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

// The API's own fields: constrained_log_prob is the sampler's (steered) log-probability of the name, distance
// the edits from the name to be like (empty without one).
export function namesCsv(samples) {
  const rows = [["name", "novel", "log_prob", "constrained_log_prob", "distance", "model"]];
  for (const s of samples) {
    rows.push([
      s.name, s.novel ?? "", s.log_prob ?? "", s.constrained_log_prob ?? "", s.distance ?? "", state.samplesModel ?? "",
    ]);
  }
  return `${rows.map((row) => row.map(csvField).join(",")).join("\r\n")}\r\n`;
}

export function setUpNameTools() {
  $("copy-all").addEventListener("click", async () => {
    const names = state.samples.map((s) => s.name);
    say(await copyText(`${names.join("\n")}\n`)
      ? `Copied ${names.length} ${names.length === 1 ? "name" : "names"}, one per line.`
      : "Could not copy: your browser refused. Try Download CSV.");
  });
  $("download-csv").addEventListener("click", () => {
    const seed = new URLSearchParams(state.sampleQuery || "").get("seed");
    download(`namegen${seed ? `-seed-${seed}` : ""}.csv`, namesCsv(state.samples), "text/csv;charset=utf-8");
    say(`Downloaded ${state.samples.length} names as CSV.`);
  });
  $("copy-link").addEventListener("click", async () => {
    say(await copyText(location.href) ? "Link copied: it opens these names and this score." : "Copy the address bar to share.");
  });
  // Re-fit when the list's width changes (a phone turned, a window resized), a frame later: never in the loop.
  let width = 0;
  new ResizeObserver((entries) => {
    const now = Math.round(entries[0].contentRect.width);
    if (now !== width) {
      width = now;
      requestAnimationFrame(fitNames);
    }
  }).observe($("names"));
}

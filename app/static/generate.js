// Generate: the form, its query-string twin, GET /sample, the list of names and what can be done with them.

import { checkSampleForm } from "./checks.js";
import { modelVanished, unknownModel } from "./models.js";
import { modelParam, state, updateUrl } from "./state.js";
import { scoreText } from "./score.js";
import {
  $, apiProblems, capitalise, clearField, copyText, download, focusField, humanise, markField, reveal, scrollBehaviour,
  showError,
} from "./ui.js";

// The /sample query parameters the form offers, in URL order; each is the id of its form control.
export const SAMPLE_FIELDS = [
  "n", "temperature", "seed", "prefix", "min_length", "max_length", "top_k", "top_p", "novel_only", "unique",
];
const CHECKBOXES = new Set(["novel_only", "unique"]); // sent as "true" when ticked, left out otherwise
const ADVANCED_FIELDS = new Set(["min_length", "max_length", "top_k", "top_p", "novel_only", "unique"]);

// The request's query: the chosen model, then the form's settings.
function settingsFromForm() {
  const params = new URLSearchParams(modelParam());
  for (const name of SAMPLE_FIELDS) {
    const input = $(name);
    if (CHECKBOXES.has(name)) {
      if (input.checked) params.set(name, "true");
    } else if (input.value.trim() !== "") {
      params.set(name, input.value.trim());
    }
  }
  return params;
}

// Fill the form from a shared link. Returns a note naming any value a number box could not hold (the browser
// empties it), so nothing from the link is dropped without saying so.
export function applySettingsToForm(params) {
  let advanced = false;
  const dropped = [];
  for (const name of SAMPLE_FIELDS) {
    if (!params.has(name)) continue;
    const input = $(name);
    const value = params.get(name);
    if (CHECKBOXES.has(name)) {
      input.checked = ["true", "1", "yes", "on"].includes(value.toLowerCase());
    } else {
      input.value = value;
      if (value.trim() !== "" && input.value === "") dropped.push(`${name}=${value}`);
    }
    if (ADVANCED_FIELDS.has(name)) advanced = true;
  }
  if (advanced) $("more-settings").open = true;
  syncTemperature();
  return dropped.length ? `Ignored ${humanise(dropped.join(", "), SAMPLE_FIELDS)} from the link: not a number.` : "";
}

// The slider covers the useful range; the number box holds the exact value (any the API accepts), so a
// shared link with temperature=3 is kept as 3 rather than clamped to the slider's end.
export function syncTemperature() {
  const value = Number($("temperature").value);
  if ($("temperature").value !== "" && Number.isFinite(value)) $("temperature-slider").value = String(value);
}

export function newSeed() {
  const buffer = new Uint32Array(1);
  crypto.getRandomValues(buffer);
  return buffer[0] >>> 1; // 0 .. 2^31-1
}

// A one-line summary; says plainly when fewer names than asked came back, and anything the server changed.
function sampleSummary(data) {
  const returned = data.names.length;
  const requested = typeof data.requested === "number" ? data.requested : returned;
  const parts = [];
  let warn = false;
  let named = false; // the model that made them is said
  if (state.linkNote) {
    warn = true;
    parts.push(state.linkNote);
    state.linkNote = ""; // said once, for the first generation from the link
  }
  if (data.complete === false || returned < requested) {
    warn = true;
    parts.push(data.message
      ? `${capitalise(humanise(data.message, SAMPLE_FIELDS))}.`.replace(/\.\.$/, ".")
      : `Found ${returned} of ${requested} names that fit these settings.`);
  } else {
    const novel = (data.samples || []).filter((s) => s.novel).length;
    const from = data.model ? ` from ${data.model}` : "";
    named = Boolean(data.model);
    parts.push(`${returned} ${returned === 1 ? "name" : "names"}${from}, ${novel} of them new.`);
  }
  for (const note of data.notes || []) {
    warn = true;
    parts.push(capitalise(humanise(note, SAMPLE_FIELDS)));
  }
  if (data.model && !named) parts.push(`Model: ${data.model}.`);
  return { text: parts.join(" "), warn };
}

// Form errors: every bad field marked (aria-invalid, its message below it), the first one focused, and a
// summary above the names. The names already shown stay, with their link: nothing was generated.
function showFormProblems(problems) {
  const ordered = [...problems].sort((a, b) => SAMPLE_FIELDS.indexOf(a.field) - SAMPLE_FIELDS.indexOf(b.field));
  for (const { field, message } of ordered) if (field) markField(field, message);
  const kept = state.samples.length ? " The names below are from your previous settings." : "";
  const lines = [...new Set(ordered.map((p) => p.message))];
  showError($("sample-error"), `Nothing generated. ${lines.join("\n")}${kept}`);
  const first = ordered.find((p) => p.field);
  if (first) focusField(first.field);
  else reveal($("sample-error"), "center");
}

function clearFormProblems() {
  for (const name of SAMPLE_FIELDS) clearField(name);
  showError($("sample-error"), "");
}

// A field's mark goes as soon as it is edited; the summary stays until the next Generate.
export function watchFieldEdits() {
  for (const name of SAMPLE_FIELDS) {
    $(name).addEventListener(CHECKBOXES.has(name) ? "change" : "input", () => {
      if ($(name).getAttribute("aria-invalid") === "true") clearField(name);
    });
  }
}

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

// Lay each card over as many columns as its name needs to sit on one line; only a name wider than the whole
// list wraps (between any letters: it has no spaces).
export function fitNames() {
  const items = [...$("names").children];
  for (const item of items) item.classList.remove("span-2", "span-all", "wraps");
  for (const item of items) {
    const text = item.querySelector(".name-text");
    if (text.scrollWidth <= text.clientWidth) continue;
    item.classList.add("span-2");
    if (text.scrollWidth <= text.clientWidth) continue;
    item.classList.replace("span-2", "span-all");
    if (text.scrollWidth > text.clientWidth) item.classList.add("wraps");
  }
}

function renderNames(data) {
  const list = $("names");
  list.replaceChildren();
  const samples = Array.isArray(data.samples) && data.samples.length === data.names.length
    ? data.samples
    : data.names.map((name) => ({ name }));
  state.samples = samples;
  state.samplesModel = data.model || null;
  list.dataset.model = data.model || "";
  for (const sample of samples) {
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
    list.append(item);
  }
  fitNames();
  $("names-empty").hidden = true; // the status line now says how many came back, zero included
  $("names-legend").hidden = !samples.some((s) => typeof s.novel === "boolean");
  $("names-tools").hidden = samples.length === 0;
}

function csvField(value) {
  const text = value === undefined || value === null ? "" : String(value);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function namesCsv(samples) {
  const rows = [["name", "novel", "log_prob", "model"]];
  for (const s of samples) rows.push([s.name, s.novel ?? "", s.log_prob ?? "", state.samplesModel ?? ""]);
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

function idle() {
  $("sample-button").disabled = false;
  $("sample-button").textContent = "Generate";
  $("names").setAttribute("aria-busy", "false");
}

// The model changed: the names shown (or on their way) are another model's, so they go.
export function clearNames() {
  state.sampleSeq++;
  idle();
  state.sampleQuery = null;
  state.samples = [];
  state.samplesModel = null;
  $("names").replaceChildren();
  delete $("names").dataset.model;
  $("names-empty").hidden = false;
  $("names-legend").hidden = true;
  $("names-tools").hidden = true;
  $("sample-status").className = "status";
  $("sample-status").textContent = "";
}

export async function generate() {
  const seq = ++state.sampleSeq;
  clearFormProblems();
  const problems = checkSampleForm();
  if (problems.length) {
    showFormProblems(problems);
    return;
  }
  const params = settingsFromForm();
  const button = $("sample-button");
  button.disabled = true;
  button.textContent = "Generating…";
  $("names").setAttribute("aria-busy", "true");
  try {
    const response = await fetch(`/sample?${params}`, { headers: { Accept: "application/json" } });
    if (seq !== state.sampleSeq) return;
    if (!response.ok) {
      const gone = await unknownModel(response);
      if (gone) {
        modelVanished(gone, { names: true });
        return;
      }
      const serverProblems = await apiProblems(response, SAMPLE_FIELDS);
      if (seq !== state.sampleSeq) return;
      showFormProblems(serverProblems);
      return;
    }
    const data = await response.json();
    if (seq !== state.sampleSeq) return;
    // Pin the seed the server picked, so the URL reproduces exactly these names. A seed the user gave stays
    // as typed: it may exceed 2^53, which a JavaScript number cannot hold exactly (server-picked ones never do).
    if (!params.has("seed") && data.seed !== undefined && data.seed !== null) {
      $("seed").value = String(data.seed);
      params.set("seed", String(data.seed));
    }
    renderNames(data);
    const summary = sampleSummary(data);
    const status = $("sample-status");
    status.className = summary.warn ? "status warn" : "status";
    status.textContent = summary.text;
    state.sampleQuery = params.toString();
    updateUrl();
    // The status line and the first names in view (on a phone they start below the fold).
    const first = $("names").firstElementChild;
    if (first && first.getBoundingClientRect().bottom > window.innerHeight) {
      status.scrollIntoView({ block: "start", behavior: scrollBehaviour() });
    } else {
      reveal(status);
    }
  } catch (error) {
    if (seq === state.sampleSeq) showError($("sample-error"), `Could not reach the server: ${error.message}`);
  } finally {
    if (seq === state.sampleSeq) idle();
  }
}

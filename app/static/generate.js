// Generate: the form, its query-string twin, GET /sample, and the list of names.

import { state, updateUrl } from "./state.js";
import { scoreText } from "./score.js";
import { $, capitalise, errorMessage, showError } from "./ui.js";

// The /sample query parameters the form offers, in URL order; each is the id of its form control.
export const SAMPLE_FIELDS = [
  "n", "temperature", "seed", "prefix", "min_length", "max_length", "top_k", "top_p", "novel_only", "unique",
];
const CHECKBOXES = new Set(["novel_only", "unique"]); // sent as "true" when ticked, left out otherwise
const ADVANCED_FIELDS = new Set(["min_length", "max_length", "top_k", "top_p", "novel_only", "unique"]);

function settingsFromForm() {
  const params = new URLSearchParams();
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
  return dropped.length ? `Ignored ${dropped.join(", ")} from the link: not a number.` : "";
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
  if (state.linkNote) {
    warn = true;
    parts.push(state.linkNote);
    state.linkNote = ""; // said once, for the first generation from the link
  }
  if (data.complete === false || returned < requested) {
    warn = true;
    parts.push(data.message ? capitalise(data.message) : `Found ${returned} of ${requested} names that fit these settings.`);
  } else {
    const novel = (data.samples || []).filter((s) => s.novel).length;
    parts.push(`${returned} ${returned === 1 ? "name" : "names"}, ${novel} of them new.`);
  }
  for (const note of data.notes || []) {
    warn = true;
    parts.push(capitalise(note));
  }
  return { text: parts.join(" "), warn };
}

function clearNames() {
  $("names").replaceChildren();
  $("names-legend").hidden = true;
  $("sample-status").textContent = "";
  $("sample-status").className = "status";
}

function renderNames(data) {
  const list = $("names");
  list.replaceChildren();
  const samples = Array.isArray(data.samples) && data.samples.length === data.names.length
    ? data.samples
    : data.names.map((name) => ({ name }));
  for (const sample of samples) {
    const item = document.createElement("li");
    item.setAttribute("data-testid", "name");
    item.dataset.name = sample.name;
    const button = document.createElement("button");
    button.type = "button";
    button.className = "name-button";
    button.setAttribute("aria-label", `${sample.name}${sample.novel === false ? ", in the training data" : sample.novel ? ", new" : ""}. Score it`);
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
      scoreText(sample.name);
    });
    item.append(button);
    list.append(item);
  }
  $("names-empty").hidden = true; // the status line now says how many came back, zero included
  $("names-legend").hidden = !samples.some((s) => typeof s.novel === "boolean");
}

export async function generate() {
  const seq = ++state.sampleSeq;
  const params = settingsFromForm();
  const button = $("sample-button");
  button.disabled = true;
  button.textContent = "Generating…";
  $("names").setAttribute("aria-busy", "true");
  showError($("sample-error"), "");
  try {
    const response = await fetch(`/sample?${params}`, { headers: { Accept: "application/json" } });
    if (seq !== state.sampleSeq) return;
    if (!response.ok) {
      const message = await errorMessage(response);
      if (seq !== state.sampleSeq) return;
      showError($("sample-error"), message);
      clearNames();
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
  } catch (error) {
    if (seq === state.sampleSeq) showError($("sample-error"), `Could not reach the server: ${error.message}`);
  } finally {
    if (seq === state.sampleSeq) {
      button.disabled = false;
      button.textContent = "Generate";
      $("names").setAttribute("aria-busy", "false");
    }
  }
}

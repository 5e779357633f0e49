// Generate: GET /sample for the form's settings, the names it answers, and the seed they came from.
//
// Pressing Generate again gives new names: unless a seed is typed in the Seed box, none is sent and the server
// picks one. The seed of the names shown is beside the button, where "Same seed again" asks for it once more,
// and in the URL, so a link reproduces the names. Only the latest request is answered on screen: starting
// another aborts the one in flight, and the button is disabled while one is.

import { checkSampleForm } from "./checks.js";
import { UNREACHABLE, noteText, problemsOf } from "./errors.js";
import { modelVanished, unknownModel } from "./models.js";
import { removeNames, renderNames } from "./names.js";
import {
  SAMPLE_CONTROLS, SAMPLE_FIELDS, SAMPLE_PARAMS, clearFormProblems, readForm, showFormProblems,
} from "./sampleform.js";
import { modelParam, state, updateUrl } from "./state.js";
import { $, fieldLabel, reveal, scrollBehaviour } from "./ui.js";

let inFlight = null; // the AbortController of the request whose answer will be shown
let askedSeed = null; // the seed the latest request was given to use once, if any

// The seed of the names shown, as sent or as the server picked it; null when none are shown.
export function shownSeed() {
  return new URLSearchParams(state.sampleQuery || "").get("seed");
}

// The seed to ask the next model with: that of the names shown, or, when they were still being asked for (in
// flight, or refused because their model is gone: `asking`), the seed that request was given, if any.
export function seedToRepeat(asking) {
  return asking || inFlight ? askedSeed : shownSeed();
}

// The query: the model, then the settings in the form's order, the seed among them.
function query(settings, seed) {
  const params = new URLSearchParams(modelParam());
  for (const param of SAMPLE_PARAMS) {
    const value = param === "seed" && seed !== null ? seed : settings.get(param);
    if (value !== null) params.set(param, value);
  }
  return params;
}

// The settings that narrow what may come back, as labelled on screen: "Starts with “zz”, No repeats".
function constraints(params) {
  const shown = [];
  for (const { param, kind } of SAMPLE_CONTROLS) {
    if (["n", "temperature", "seed"].includes(param) || !params.has(param)) continue;
    const label = fieldLabel(param);
    const value = params.get(param);
    shown.push(kind === "checkbox" ? label : kind === "text" ? `${label} “${value}”` : `${label} ${value}`);
  }
  return shown;
}

// How names chosen among more candidates were chosen: the closest to a name, or resampled to the model's odds.
function howDrawn(data, returned) {
  const said = [];
  const drawn = typeof data.drawn === "number" ? data.drawn.toLocaleString("en-US") : null;
  const like = data.params && data.params.similar_to;
  if (returned && like && drawn) {
    said.push(`${returned === 1 ? "The closest" : `The ${returned} closest`} to “${like}” of ${drawn} drawn.`);
  }
  const size = data.effective_sample_size;
  if (returned && typeof size === "number" && drawn) {
    said.push(`Chosen from ${drawn} drawn in proportion to the model's own odds `
      + `(worth about ${Math.round(size).toLocaleString("en-US")} independent draws).`);
  }
  return said;
}

// A one-line summary; says plainly when fewer names than asked came back, and anything the server changed.
function sampleSummary(data, params) {
  const returned = data.names.length;
  const requested = typeof data.requested === "number" ? data.requested : returned;
  const parts = [];
  let warn = false;
  if (state.linkNote) {
    warn = true;
    parts.push(state.linkNote);
    state.linkNote = ""; // said once, for the first generation from the link
  }
  if (returned < requested) {
    warn = true;
    const narrowing = constraints(params);
    const found = returned ? `Found only ${returned} of ${requested} names` : "Found no names";
    const tried = typeof data.drawn === "number" ? ` among ${data.drawn.toLocaleString("en-US")} drawn` : "";
    parts.push(`${found} that fit these settings`
      + `${narrowing.length ? ` (${narrowing.join(", ")})` : ""}${tried}: loosen them, or ask for fewer.`);
  } else {
    const novel = (data.samples || []).filter((s) => s.novel).length;
    const from = data.model ? ` from ${data.model}` : "";
    parts.push(`${returned} ${returned === 1 ? "name" : "names"}${from}, ${novel} of them new.`);
  }
  parts.push(...howDrawn(data, returned));
  for (const note of data.notes || []) {
    const text = noteText(note, SAMPLE_FIELDS);
    if (text) {
      warn = true;
      parts.push(text);
    }
  }
  return { text: parts.join(" "), warn };
}

function showSeed(seed) {
  $("shown-seed").textContent = seed || "";
  $("seed-line").hidden = !seed;
}

function busy() {
  $("sample-button").disabled = true;
  $("sample-button").textContent = "Generating…";
  $("names").setAttribute("aria-busy", "true");
}

function idle() {
  inFlight = null;
  $("sample-button").disabled = false;
  $("sample-button").textContent = "Generate";
  $("names").setAttribute("aria-busy", "false");
}

function stopAsking() {
  state.sampleSeq++;
  inFlight?.abort(); // the server stops working on it too
  idle();
}

// The model changed: the names shown (or on their way) are another model's, so they go.
export function clearNames() {
  stopAsking();
  state.sampleQuery = null;
  removeNames();
  showSeed(null);
  $("sample-status").className = "status";
  $("sample-status").textContent = "";
}

// Names for the form's settings. `seed`: one chosen by a click ("Same seed again"), a link or a model switch,
// sent with this request only; without it, the Seed box's (a typed seed sticks) or none.
export async function generate({ seed = null } = {}) {
  stopAsking();
  const seq = state.sampleSeq;
  clearFormProblems();
  const problems = checkSampleForm();
  if (problems.length) {
    showFormProblems(problems);
    return;
  }
  const params = query(readForm(), seed);
  inFlight = new AbortController();
  askedSeed = seed;
  busy();
  try {
    const response = await fetch(`/sample?${params}`, {
      headers: { Accept: "application/json" }, signal: inFlight.signal,
    });
    if (seq !== state.sampleSeq) return;
    if (!response.ok) {
      const gone = await unknownModel(response);
      if (gone) {
        modelVanished(gone, { names: true });
        return;
      }
      const serverProblems = await problemsOf(response, SAMPLE_FIELDS);
      if (seq === state.sampleSeq) showFormProblems(serverProblems);
      return;
    }
    const data = await response.json();
    if (seq !== state.sampleSeq) return;
    // A seed sent is kept as sent: it may pass 2^53, beyond a JavaScript number (the server's picks never do).
    const picked = data.seed === undefined || data.seed === null ? null : String(data.seed);
    const shown = query(params, params.get("seed") ?? picked);
    renderNames(data);
    const summary = sampleSummary(data, params);
    const status = $("sample-status");
    status.className = summary.warn ? "status warn" : "status";
    status.textContent = summary.text;
    state.sampleQuery = shown.toString();
    showSeed(shown.get("seed"));
    updateUrl();
    // The status line and the first names in view (on a phone they start below the fold).
    const first = $("names").firstElementChild;
    if (first && first.getBoundingClientRect().bottom > window.innerHeight) {
      status.scrollIntoView({ block: "start", behavior: scrollBehaviour() });
    } else {
      reveal(status);
    }
  } catch {
    if (seq === state.sampleSeq) showFormProblems([{ field: null, message: UNREACHABLE }]);
  } finally {
    if (seq === state.sampleSeq) idle();
  }
}

export function setUpGenerate() {
  $("sample-form").addEventListener("submit", (event) => {
    event.preventDefault();
    generate();
  });
  $("same-again").addEventListener("click", () => generate({ seed: shownSeed() }));
}

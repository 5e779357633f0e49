// The Generate form: its controls, read into GET /sample's query, filled from a link, and marked when wrong.

import { state } from "./state.js";
import { $, clearField, fieldLabel, focusField, markField, reveal, showError } from "./ui.js";

const MAX_SEED = 2n ** 64n - 1n;

// One entry per GET /sample parameter the form offers, in the order of the form and of the URL; each
// control's id is its parameter's name.
//   kind: how its value is read: "number" and "text" boxes are sent trimmed when not empty, a "checkbox" as
//         "true" when ticked;
//   asTyped: a text sent as typed when not blank, untrimmed (a pattern: a space is part of it, and the
//         server's positions count from what was typed);
//   must: what a valid value is, in the words every message about it uses (checks.js, errors.js);
//   range: the page's own check of a number box: {whole, min, max} or {above, atMost}; required: not empty;
//   letters: a text whose every character must be one the model can read (checked against its vocabulary).
// A new control is its field in index.html and a line here; a rule across fields goes in checks.js. A control
// inside a <details> ("Shape", "More settings") is shown when a link sets it.
export const SAMPLE_CONTROLS = [
  { param: "n", kind: "number", range: { whole: true, min: 1 }, required: true, must: "a whole number, 1 or more" },
  { param: "temperature", kind: "number", range: { above: 0 }, must: "a number above 0, such as 0.8" },
  {
    param: "seed", kind: "number", range: { whole: true, min: 0, max: MAX_SEED },
    must: `a whole number from 0 to ${MAX_SEED}, or empty for new names every time`,
  },
  { param: "prefix", kind: "text", letters: true },
  { param: "suffix", kind: "text", letters: true },
  { param: "contains", kind: "text", letters: true },
  { param: "excludes", kind: "text", letters: true },
  { param: "similar_to", kind: "text", letters: true },
  { param: "pattern", kind: "text", asTyped: true },
  {
    param: "min_length", kind: "number", range: { whole: true, min: 1 },
    must: "a whole number, 1 or more, or empty for any",
  },
  {
    param: "max_length", kind: "number", range: { whole: true, min: 1 },
    must: "a whole number, 1 or more, or empty for any",
  },
  {
    param: "top_k", kind: "number", range: { whole: true, min: 1, max: 1_000_000 },
    must: "a whole number from 1 to 1000000, or empty for off",
  },
  {
    param: "top_p", kind: "number", range: { above: 0, atMost: 1 },
    must: "a number above 0 and at most 1, or empty for off",
  },
  { param: "novel_only", kind: "checkbox" },
  { param: "unique", kind: "checkbox" },
  { param: "exact", kind: "checkbox" },
];

export const SAMPLE_PARAMS = SAMPLE_CONTROLS.map((c) => c.param);

// The parameters as errors.js takes them: each one's control and what it takes.
export const SAMPLE_FIELDS = Object.fromEntries(SAMPLE_CONTROLS.map((c) => [c.param, { id: c.param, must: c.must }]));

// The form's settings as GET /sample's query (without the model, which the caller puts first).
export function readForm() {
  const params = new URLSearchParams();
  for (const { param, kind, asTyped } of SAMPLE_CONTROLS) {
    const input = $(param);
    if (kind === "checkbox") {
      if (input.checked) params.set(param, "true");
    } else if (input.value.trim() !== "") {
      params.set(param, asTyped ? input.value : input.value.trim());
    }
  }
  return params;
}

// The words the API reads as a yes or a no (pydantic's booleans), for a checkbox set by a link.
const TRUE_WORDS = ["true", "1", "yes", "on", "t", "y"];
const FALSE_WORDS = ["false", "0", "no", "off", "f", "n", ""];

export function isSeed(raw) {
  return /^\d+$/.test(raw) && BigInt(raw) <= MAX_SEED;
}

// Fill the form from a link's query. The link's seed is not put in the Seed box: it reproduces the link's
// names once, and the next Generate gives new ones (only a seed typed here sticks). Returns {seed, note}: the
// link's seed (null without a valid one) and a note naming any value the form could not hold (a number box
// empties itself on "abc"; a checkbox is ticked or not, never "maybe"), so nothing from the link is dropped
// without saying so.
export function fillForm(params) {
  const dropped = [];
  let seed = null;
  for (const { param, kind } of SAMPLE_CONTROLS) {
    if (!params.has(param)) continue;
    const value = params.get(param);
    const input = $(param);
    const drop = () => dropped.push(`${fieldLabel(param)} “${value}”`);
    if (param === "seed") {
      if (isSeed(value.trim())) seed = value.trim();
      else if (value.trim() !== "") drop();
    } else if (kind === "checkbox") {
      const said = value.trim().toLowerCase();
      input.checked = TRUE_WORDS.includes(said);
      if (!input.checked && !FALSE_WORDS.includes(said)) drop();
    } else {
      input.value = value;
      if (value.trim() !== "" && input.value === "") drop();
    }
    const group = input.closest("details");
    if (group) group.open = true;
  }
  syncTemperature();
  const note = dropped.length ? `Left out ${dropped.join(", ")} from the link: not a value this form takes.` : "";
  return { seed, note };
}

// The slider covers the useful range; the number box holds the exact value (any the API accepts), so a
// shared link with temperature=3 is kept as 3 rather than clamped to the slider's end.
function syncTemperature() {
  const value = Number($("temperature").value);
  if ($("temperature").value !== "" && Number.isFinite(value)) $("temperature-slider").value = String(value);
}

// Form errors: every bad field marked (aria-invalid, its message below it), the first one focused, and a
// summary above the names. The names already shown stay, with their link: nothing was generated.
export function showFormProblems(problems) {
  const ordered = [...problems].sort((a, b) => SAMPLE_PARAMS.indexOf(a.field) - SAMPLE_PARAMS.indexOf(b.field));
  for (const { field, message } of ordered) if (field) markField(field, message);
  const kept = state.samples.length ? " The names below are from your previous settings." : "";
  const lines = [...new Set(ordered.map((p) => p.message))];
  const fromLink = state.linkNote ? `${state.linkNote}\n` : ""; // said until names come
  showError($("sample-error"), `${fromLink}Nothing generated. ${lines.join("\n")}${kept}`);
  const first = ordered.find((p) => p.field);
  if (first) focusField(first.field);
  else reveal($("sample-error"), "center");
}

export function clearFormProblems() {
  for (const param of SAMPLE_PARAMS) clearField(param);
  showError($("sample-error"), "");
}

// The temperature slider and its number box kept together; a field's mark goes as soon as it is edited (the
// summary stays until the next Generate).
export function setUpSampleForm() {
  $("temperature").addEventListener("input", syncTemperature);
  $("temperature-slider").addEventListener("input", () => {
    $("temperature").value = Number($("temperature-slider").value).toFixed(2);
    $("temperature").dispatchEvent(new Event("input")); // clears a mark left on the number box
  });
  for (const { param, kind } of SAMPLE_CONTROLS) {
    $(param).addEventListener(kind === "checkbox" ? "change" : "input", () => {
      if ($(param).getAttribute("aria-invalid") === "true") clearField(param);
    });
  }
}

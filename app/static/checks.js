// The Generate form checked on the page, before any request: the rules of GET /sample that do not depend on
// the server's settings. Limits that do (n <= max_n, max_length <= max_name_length) come back from the server
// as a 422 naming the parameter, and are marked on the same field. Every message uses the labels on screen.

import { modelVocab } from "./state.js";
import { $, fieldLabel } from "./ui.js";

const MAX_SEED = 2n ** 64n - 1n;
const WHOLE = /^\d+$/;

function number(id) {
  const input = $(id);
  return { raw: input.value.trim(), bad: Boolean(input.validity && input.validity.badInput), label: fieldLabel(id) };
}

function wholeNumber(id, { min, max, optional, hint }) {
  const { raw, bad, label } = number(id);
  if (raw === "" && !bad) return optional ? null : `${label} is empty: enter ${hint}.`;
  if (bad || !WHOLE.test(raw)) return `${label} must be ${hint}.`;
  const value = BigInt(raw);
  if (value < BigInt(min) || (max !== undefined && value > BigInt(max))) return `${label} must be ${hint}.`;
  return null;
}

function decimal(id, { above, atMost, hint }) {
  const { raw, bad, label } = number(id);
  if (raw === "" && !bad) return null;
  const value = Number(raw);
  if (bad || !Number.isFinite(value) || value <= above || (atMost !== undefined && value > atMost)) {
    return `${label} must be ${hint}.`;
  }
  return null;
}

// The prefix as the server will use it: stripped, lower-cased when the vocabulary has no upper case.
function normalisedPrefix() {
  const raw = $("prefix").value.trim();
  const vocab = modelVocab();
  if (!vocab) return { text: raw, unknown: [] };
  const text = vocab.every((c) => c === c.toLowerCase()) ? raw.toLowerCase() : raw;
  const known = new Set(vocab);
  return { text, unknown: [...new Set([...text].filter((c) => !known.has(c)))], vocab };
}

function describeVocab(vocab) {
  const letters = vocab.join("");
  return letters === "abcdefghijklmnopqrstuvwxyz" ? "the letters a to z" : `these characters: ${letters}`;
}

// [{field, message}] for every field that is wrong, in the order of the form.
export function checkSampleForm() {
  const problems = [];
  const add = (field, message) => { if (message) problems.push({ field, message }); };
  add("n", wholeNumber("n", { min: 1, hint: "a whole number, 1 or more" }));
  add("temperature", decimal("temperature", { above: 0, hint: "a number above 0, such as 0.8" }));
  add("seed", wholeNumber("seed", {
    min: 0, max: MAX_SEED, optional: true, hint: `a whole number from 0 to ${MAX_SEED}, or empty for a random one`,
  }));
  const prefix = normalisedPrefix();
  if (prefix.unknown.length) {
    const shown = prefix.unknown.map((c) => (c === " " ? "a space" : `“${c}”`)).join(", ");
    add("prefix", `${fieldLabel("prefix")} can only use ${describeVocab(prefix.vocab)}, not ${shown}.`);
  }
  const lengthHint = "a whole number, 1 or more, or empty for any";
  const minError = wholeNumber("min_length", { min: 1, optional: true, hint: lengthHint });
  const maxError = wholeNumber("max_length", { min: 1, optional: true, hint: lengthHint });
  const minLength = $("min_length").value.trim();
  const maxLength = $("max_length").value.trim();
  if (!minError && !maxError && minLength !== "" && maxLength !== "" && Number(minLength) > Number(maxLength)) {
    add("min_length", `${fieldLabel("min_length")} (${minLength}) can't be more than ${fieldLabel("max_length")} (${maxLength}).`);
  } else {
    add("min_length", minError);
  }
  add("max_length", maxError);
  if (!maxError && maxLength !== "" && !prefix.unknown.length && prefix.text.length > Number(maxLength)) {
    add("prefix", `${fieldLabel("prefix")} (“${prefix.text}”, ${prefix.text.length} letters) is longer than ${fieldLabel("max_length")} (${maxLength}).`);
  }
  add("top_k", wholeNumber("top_k", { min: 1, max: 1_000_000, optional: true, hint: "a whole number from 1 to 1000000, or empty for off" }));
  add("top_p", decimal("top_p", { above: 0, atMost: 1, hint: "a number above 0 and at most 1, or empty for off" }));
  return problems;
}

// The Generate form checked on the page, before any request: each control's own rule (its `range` or its
// `letters`, sampleform.js) and the rules across controls. Limits that depend on the server's settings
// (n <= max_n, max_length <= max_name_length) come back as a 422 naming the parameter, worded by errors.js
// with the same phrases and marked on the same field.

import { phrase } from "./errors.js";
import { SAMPLE_CONTROLS } from "./sampleform.js";
import { modelVocab } from "./state.js";
import { $, fieldLabel } from "./ui.js";
import { unreadable } from "./vocab.js";

const WHOLE = /^\d+$/;

function outOfRange({ param, range, required, must }) {
  const input = $(param);
  const raw = input.value.trim();
  const bad = Boolean(input.validity && input.validity.badInput); // "1e" or "abc": the box shows it, value is ""
  const label = fieldLabel(param);
  if (raw === "" && !bad) return required ? `${label} is empty: enter ${must}.` : null;
  if (range.whole) {
    if (bad || !WHOLE.test(raw)) return phrase.mustBe(label, must);
    const value = BigInt(raw); // a seed may pass 2^53
    const tooBig = range.max !== undefined && value > BigInt(range.max);
    return value < BigInt(range.min) || tooBig ? phrase.mustBe(label, must) : null;
  }
  const value = Number(raw);
  const tooBig = range.atMost !== undefined && value > range.atMost;
  return bad || !Number.isFinite(value) || value <= range.above || tooBig ? phrase.mustBe(label, must) : null;
}

function unknownLetters({ param }) {
  const vocab = modelVocab();
  const unknown = vocab ? unreadable($(param).value, vocab) : [];
  return unknown.length ? phrase.outside(fieldLabel(param), unknown, vocab) : null;
}

// [{field, message}] for every field that is wrong.
export function checkSampleForm() {
  const problems = new Map(); // param -> message: one per field
  for (const control of SAMPLE_CONTROLS) {
    const message = control.range ? outOfRange(control) : control.letters ? unknownLetters(control) : null;
    if (message) problems.set(control.param, message);
  }
  // Across fields, once each is fine on its own. Lengths count characters as the server does (code points,
  // after trimming and NFC; its folds keep the length).
  const value = (param) => $(param).value.trim();
  const label = fieldLabel;
  const [minLength, maxLength] = [value("min_length"), value("max_length")];
  const fine = (param) => !problems.has(param) && value(param) !== "";
  if (fine("min_length") && fine("max_length") && Number(minLength) > Number(maxLength)) {
    problems.set("min_length", phrase.moreThan(label("min_length"), minLength, label("max_length"), maxLength));
  }
  for (const param of ["prefix", "suffix", "contains"]) { // each is part of the name, so no longer than it
    const length = [...value(param).normalize("NFC")].length;
    if (fine("max_length") && !problems.has(param) && length > Number(maxLength)) {
      problems.set(param, phrase.longerThan(label(param), length, label("max_length"), maxLength));
    }
  }
  return [...problems].map(([field, message]) => ({ field, message }));
}

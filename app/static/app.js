// namegen page: generate names (GET /sample), score a name (POST /score), show the model (GET /model).
// Plain ES modules, no framework, no build step; everything is fetched from this origin.

import {
  SAMPLE_FIELDS, applySettingsToForm, generate, newSeed, setUpNameTools, syncTemperature, watchFieldEdits,
} from "./generate.js";
import { loadModel, loadPlots } from "./model.js";
import { scoreText, setUpScoring } from "./score.js";
import { SCORE_PARAM, state } from "./state.js";
import { $ } from "./ui.js";

const SCORE_DEBOUNCE_MS = 250;

function init() {
  const params = new URLSearchParams(location.search);
  state.linkNote = applySettingsToForm(params);
  $("temperature").addEventListener("input", syncTemperature);
  $("temperature-slider").addEventListener("input", () => {
    $("temperature").value = Number($("temperature-slider").value).toFixed(2);
    $("temperature").dispatchEvent(new Event("input")); // clears a mark left on the number box
  });
  $("sample-form").addEventListener("submit", (event) => {
    event.preventDefault();
    generate();
  });
  $("new-seed").addEventListener("click", () => {
    $("seed").value = String(newSeed());
    generate();
  });
  watchFieldEdits();
  setUpNameTools();
  setUpScoring();
  let debounce = null;
  $("score-form").addEventListener("submit", (event) => {
    event.preventDefault();
    clearTimeout(debounce);
    scoreText($("score-input").value);
  });
  $("score-input").addEventListener("input", () => {
    clearTimeout(debounce);
    const value = $("score-input").value;
    if (value !== "") debounce = setTimeout(() => scoreText(value), SCORE_DEBOUNCE_MS);
  });

  const modelLoaded = loadModel();
  loadPlots();
  // The form's checks need the model's vocabulary (the Starts with box), so a shared link waits for it.
  if (SAMPLE_FIELDS.some((name) => params.has(name))) modelLoaded.then(() => generate());
  const shared = params.get(SCORE_PARAM);
  if (shared) {
    $("score-input").value = shared;
    modelLoaded.then(() => scoreText(shared));
  }
}

init();

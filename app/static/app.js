// namegen page: pick a model (GET /models), generate names (GET /sample), score a name (POST /score), see
// what the model expects next (GET /next), show the model (GET /model). Every request names the chosen model.
// Plain ES modules, no framework, no build step; everything is fetched from this origin.

import {
  SAMPLE_FIELDS, applySettingsToForm, clearNames, generate, newSeed, setUpNameTools, syncTemperature,
  watchFieldEdits,
} from "./generate.js";
import { loadModel, loadPlots, setUpPlots } from "./model.js";
import { loadModels, setUpModelPicker, whenModelChanges } from "./models.js";
import { expectNext } from "./next.js";
import { clearScore, scoreText, setUpScoring } from "./score.js";
import { MODEL_PARAM, SCORE_PARAM, state, updateUrl } from "./state.js";
import { $ } from "./ui.js";

const SCORE_DEBOUNCE_MS = 250;

// Another model chosen: what the old one produced goes, and is asked again of the new one (the same
// settings and seed, the same name), so switching compares the two models.
function modelChanged(redo) {
  const hadNames = state.sampleQuery !== null || $("sample-button").disabled || Boolean(redo.names);
  const hadScore = state.scoredText !== null || Boolean(redo.score);
  clearNames();
  clearScore();
  updateUrl();
  loadModel();
  loadPlots();
  expectNext($("score-input").value);
  if (hadNames) generate();
  if (hadScore && $("score-input").value.trim() !== "") scoreText($("score-input").value);
}

async function init() {
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
  setUpPlots();
  let debounce = null;
  $("score-form").addEventListener("submit", (event) => {
    event.preventDefault();
    clearTimeout(debounce);
    scoreText($("score-input").value);
  });
  $("score-input").addEventListener("input", () => {
    clearTimeout(debounce);
    const value = $("score-input").value;
    expectNext(value);
    if (value !== "") debounce = setTimeout(() => scoreText(value), SCORE_DEBOUNCE_MS);
  });

  // The model first: the link may name one, and the form's checks need its vocabulary.
  const requested = params.get(MODEL_PARAM);
  await loadModels(requested);
  setUpModelPicker();
  whenModelChanges(modelChanged);
  const panel = loadModel();
  loadPlots();
  if (!state.models.length) await panel; // no list: the vocabulary comes from GET /model
  const shared = params.get(SCORE_PARAM);
  if (shared) $("score-input").value = shared;
  expectNext($("score-input").value);
  const generating = SAMPLE_FIELDS.some((name) => params.has(name));
  if (generating) generate();
  if (shared) scoreText(shared);
  // A model the server lacks leaves the link: the URL shows what the page shows.
  if (requested && state.modelName !== requested && !generating && !shared) updateUrl();
}

init();

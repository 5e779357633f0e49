// namegen page: pick a model (GET /models), generate names (GET /sample), score a name (POST /score), see
// what the model expects next (GET /next), show the model (GET /model). Every request names the chosen model.
// Plain ES modules, no framework, no build step; everything is fetched from this origin.

import { clearNames, generate, seedToRepeat, setUpGenerate } from "./generate.js";
import { loadModel, loadPlots, setUpPlots } from "./model.js";
import { loadModels, setUpModelPicker, whenModelChanges } from "./models.js";
import { setUpNameTools } from "./names.js";
import { expectNext } from "./next.js";
import { SAMPLE_PARAMS, fillForm, setUpSampleForm } from "./sampleform.js";
import { clearScore, scoreText, setUpScoring } from "./score.js";
import { MODEL_PARAM, SCORE_PARAM, state, updateUrl } from "./state.js";
import { $ } from "./ui.js";

const SCORE_DEBOUNCE_MS = 250;

// Another model chosen: what the old one produced goes, and is asked again of the new one (the same
// settings and seed, the same name), so switching compares the two models.
function modelChanged(redo) {
  const asking = $("sample-button").disabled || Boolean(redo.names);
  const hadNames = state.sampleQuery !== null || asking;
  const seed = seedToRepeat(asking);
  const hadScore = state.scoredText !== null || Boolean(redo.score);
  clearNames();
  clearScore();
  updateUrl();
  loadModel();
  loadPlots();
  expectNext($("score-input").value);
  if (hadNames) generate({ seed });
  if (hadScore && $("score-input").value.trim() !== "") scoreText($("score-input").value);
}

async function init() {
  const params = new URLSearchParams(location.search);
  const link = fillForm(params);
  state.linkNote = link.note;
  setUpSampleForm();
  setUpGenerate();
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
  const generating = SAMPLE_PARAMS.some((name) => params.has(name));
  if (generating) generate({ seed: link.seed });
  if (shared) scoreText(shared);
  // A model the server lacks leaves the link: the URL shows what the page shows.
  if (requested && state.modelName !== requested && !generating && !shared) updateUrl();
}

init();

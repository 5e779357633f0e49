// What the page currently shows, and the URL that reproduces it.

import { $ } from "./ui.js";

export const SCORE_PARAM = "text"; // the scored name also rides in the URL, so a shared link shows it too
export const MODEL_PARAM = "model"; // the model every request names, so a shared link asks the same one

export const state = {
  models: [], // GET /models' list: [{name, default, vocab, dev_loss, dataset, ...}]; empty if it failed
  defaultModel: null,
  modelName: null, // the model chosen in the picker; null: the server's default (the list never came)
  modelPinned: false, // the link or the user named a model: the URL keeps it even with nothing shown
  model: null, // GET /model of the chosen model, for the model panel
  sampleQuery: null, // the query string of the names shown, model included
  samples: [], // the names shown: GET /sample's samples, [{name, novel, log_prob, constrained_log_prob, distance}]
  samplesModel: null, // the model that produced them
  scoredText: null,
  scoredFrom: null, // the name button that asked for the current score, if any
  scoreSeq: 0,
  sampleSeq: 0,
  linkNote: "",
};

// The /models entry of a model (the chosen one by default), else what GET /model said, else null.
export function modelInfo(name = state.modelName) {
  const listed = state.models.find((m) => m.name === name);
  if (listed) return listed;
  return state.model && (name === null || state.model.name === name) ? state.model : null;
}

// The model's vocabulary without its end token, or null when not known yet.
export function modelVocab(name = state.modelName) {
  const info = modelInfo(name);
  return info && Array.isArray(info.vocab) ? info.vocab.slice(1) : null;
}

// {model: NAME} for a request, or {} for the server's default when no model list came.
export function modelParam() {
  return state.modelName ? { [MODEL_PARAM]: state.modelName } : {};
}

// The query string: the model first, then the settings of the names shown (seed included), then the scored name.
export function updateUrl() {
  const params = new URLSearchParams();
  const shown = new URLSearchParams(state.sampleQuery || "");
  const model = shown.get(MODEL_PARAM) || state.modelName;
  if (model && (state.modelPinned || state.sampleQuery || state.scoredText)) params.set(MODEL_PARAM, model);
  for (const [key, value] of shown) if (key !== MODEL_PARAM) params.append(key, value);
  if (state.scoredText) params.set(SCORE_PARAM, state.scoredText);
  const query = params.toString();
  history.replaceState(null, "", query ? `${location.pathname}?${query}` : location.pathname);
  $("copy-link").hidden = !state.sampleQuery;
}

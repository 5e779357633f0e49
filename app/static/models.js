// The model picker: GET /models fills it, a shared link may name one, and every request names the chosen one.
// A model the server does not have (a stale link, a server restarted with other files) is said so plainly,
// and the page falls back to the server's default model.

import { modelGone, unknownModelInLink } from "./errors.js";
import { state } from "./state.js";
import { $, showError } from "./ui.js";

let changed = () => {};

// `callback(redo)` runs after the chosen model changes: app.js asks the new model again for what the old one
// produced; redo ({names, score}) names what was being asked when the old model turned out to be gone.
export function whenModelChanges(callback) {
  changed = callback;
}

function compact(count) {
  if (count >= 1e6) return `${(count / 1e6).toFixed(1)} M`;
  if (count >= 1e4) return `${Math.round(count / 1e3)} k`;
  return count.toLocaleString("en-US");
}

// Below the picker, what tells the models apart: the data each was trained on, how well it fits names it
// never saw, its size. The picker itself names the model once, so the name fits whole on a phone.
function describe(info) {
  const parts = [];
  if (info.name === state.defaultModel) parts.push("The default");
  const data = info.dataset || {};
  if (typeof data.words === "number") parts.push(`trained on ${compact(data.words)} words${data.name ? ` of ${data.name}` : ""}`);
  if (typeof info.dev_loss === "number") parts.push(`dev loss ${info.dev_loss.toFixed(3)}`);
  if (typeof info.parameters === "number") parts.push(`${compact(info.parameters)} parameters`);
  if (typeof info.block_size === "number") parts.push(`looks back ${info.block_size} characters`);
  return parts.length ? `${parts.join(" · ")}.` : "";
}

function choose(name) {
  state.modelName = name;
  $("model").value = name;
  const info = state.models.find((m) => m.name === name);
  $("model-hint").textContent = info ? describe(info) : "";
}

export function showModelNotice(message) {
  showError($("model-notice"), message);
}

// Fill the picker from GET /models and choose `requested` (a link's model=) if the server has it, else the
// default. Without a list (an older server) the picker says so and every request names no model.
export async function loadModels(requested) {
  const select = $("model");
  let body = null;
  try {
    const response = await fetch("/models", { headers: { Accept: "application/json" } });
    if (response.ok) body = await response.json();
  } catch {
    body = null;
  }
  const models = body && Array.isArray(body.models) ? body.models.filter((m) => m && typeof m.name === "string") : [];
  if (!models.length) {
    state.models = [];
    state.modelName = null;
    select.replaceChildren(new Option("The server's default", ""));
    select.disabled = true;
    $("model-hint").textContent = "The list of models could not be loaded.";
    return;
  }
  state.models = models;
  state.defaultModel = models.some((m) => m.name === body.default)
    ? body.default
    : (models.find((m) => m.default) || models[0]).name;
  select.replaceChildren(...models.map((m) => new Option(m.name, m.name)));
  select.disabled = false;
  if (requested && models.some((m) => m.name === requested)) {
    state.modelPinned = true;
    choose(requested);
    return;
  }
  choose(state.defaultModel);
  if (requested) {
    showModelNotice(unknownModelInLink(requested, models.map((m) => m.name), state.defaultModel));
  }
}

export function setUpModelPicker() {
  $("model").addEventListener("change", () => {
    showModelNotice("");
    state.modelPinned = true;
    choose($("model").value);
    changed({});
  });
}

// The body of a 404 that says the model is unknown ({"detail", "models": [...]}), else null. Reads a clone,
// so the caller can still read the response.
export async function unknownModel(response) {
  if (response.status !== 404) return null;
  try {
    const body = await response.clone().json();
    return body && Array.isArray(body.models) && typeof body.detail === "string" ? body : null;
  } catch {
    return null;
  }
}

// The server no longer has the chosen model: say so in its words, reload the list, fall back to the default,
// and ask the default what the vanished model was asked (`redo`, see whenModelChanges).
export async function modelVanished(body, redo = {}) {
  const gone = state.modelName;
  await loadModels(null);
  showModelNotice(modelGone(gone, body.models, state.modelName));
  if (state.modelName !== gone) changed(redo);
}

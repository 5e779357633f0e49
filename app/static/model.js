// The model panel: GET /model's facts and the training plots beside the artifact.

import { state } from "./state.js";
import { $, apiProblems, fmt, showError } from "./ui.js";

function fact(label, value, sub) {
  const wrapper = document.createElement("div");
  const dt = document.createElement("dt");
  dt.textContent = label;
  const dd = document.createElement("dd");
  dd.textContent = value;
  if (sub) {
    const small = document.createElement("span");
    small.className = "sub";
    small.textContent = sub;
    dd.append(small);
  }
  wrapper.append(dt, dd);
  return wrapper;
}

function renderModel(meta) {
  const hp = meta.hyperparameters || {};
  const facts = [];
  if (typeof meta.parameters === "number") facts.push(fact("Parameters", meta.parameters.toLocaleString("en-US")));
  facts.push(fact("Context", `${meta.block_size} chars`, "characters it looks back"));
  if (hp.n_hidden) {
    // Widths of the tanh layers, e.g. "1024 → 256"; "2 × (…)" when several MLPs are averaged.
    const widths = [hp.n_hidden];
    for (let i = 1; i < (hp.n_layers || 1); i++) widths.push(hp.deep_width || hp.n_hidden);
    const members = hp.n_members || 1;
    const layers = members > 1 ? `${members} × (${widths.join(" → ")})` : widths.join(" → ");
    const detail = [hp.n_embd ? `${hp.n_embd}-dim char embeddings` : "", members > 1 ? `${members} MLPs averaged` : ""];
    facts.push(fact("Hidden layers", layers, detail.filter(Boolean).join("; ")));
  }
  facts.push(fact("Dev loss", fmt(meta.dev_loss, 3), typeof meta.bigram_dev_loss === "number" ? `bigram baseline ${fmt(meta.bigram_dev_loss, 3)}` : "nats per char"));
  facts.push(fact("Test loss", fmt(meta.test_loss, 3), "nats per char"));
  const words = meta.dataset && meta.dataset.words;
  if (typeof words === "number") facts.push(fact("Trained on", `${words.toLocaleString("en-US")} names`, meta.dataset.name || ""));
  $("model-facts").replaceChildren(...facts);
}

export async function loadModel() {
  try {
    const response = await fetch("/model", { headers: { Accept: "application/json" } });
    if (!response.ok) {
      const problems = await apiProblems(response, []);
      showError($("model-error"), `Could not load the model's details: ${problems.map((p) => p.message).join(" ")}`);
      $("model-facts").replaceChildren();
      return;
    }
    state.model = await response.json();
    renderModel(state.model);
  } catch (error) {
    showError($("model-error"), `Could not load the model's details: ${error.message}`);
  }
}

export async function loadPlots() {
  // Ask which plots exist first, so an artifact without them costs no 404s.
  let available = [];
  try {
    const response = await fetch("/model/plots", { headers: { Accept: "application/json" } });
    if (response.ok) available = (await response.json()).available || [];
  } catch {
    return;
  }
  for (const kind of available) {
    const figure = $(`plot-${kind}`);
    if (!figure) continue;
    const img = figure.querySelector("img");
    img.addEventListener("load", () => { figure.hidden = false; });
    img.addEventListener("error", () => { figure.hidden = true; });
    img.src = `/model/plots/${encodeURIComponent(kind)}`;
  }
}

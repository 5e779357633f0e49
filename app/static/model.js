// The model panel: GET /model's facts and the training plots beside the artifact, of the chosen model.

import { modelVanished, unknownModel } from "./models.js";
import { modelParam, state } from "./state.js";
import { UNREACHABLE, problemsOf } from "./errors.js";
import { $, fmt, showError } from "./ui.js";

let modelSeq = 0;
let plotSeq = 0;

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

function query() {
  const params = new URLSearchParams(modelParam()).toString();
  return params ? `?${params}` : "";
}

// Facts of the chosen model; a slower answer about a model chosen before is dropped.
export async function loadModel() {
  const seq = ++modelSeq;
  state.model = null;
  showError($("model-error"), "");
  $("model-name").textContent = state.modelName || "";
  $("model-link").href = `/model${query()}`;
  try {
    const response = await fetch(`/model${query()}`, { headers: { Accept: "application/json" } });
    if (seq !== modelSeq) return;
    if (!response.ok) {
      const gone = await unknownModel(response);
      if (gone) {
        modelVanished(gone);
        return;
      }
      const problems = await problemsOf(response);
      if (seq !== modelSeq) return;
      showError($("model-error"), `Could not load the model's details. ${problems.map((p) => p.message).join(" ")}`);
      $("model-facts").replaceChildren();
      return;
    }
    const meta = await response.json();
    if (seq !== modelSeq) return;
    state.model = meta;
    $("model-name").textContent = meta.name || state.modelName || "";
    renderModel(meta);
  } catch {
    if (seq === modelSeq) showError($("model-error"), `Could not load the model's details. ${UNREACHABLE}`);
  }
}

// A figure shows its image once the image it wants (img.dataset.wanted) has loaded: never another model's.
export function setUpPlots() {
  for (const figure of document.querySelectorAll(".plots figure")) {
    const img = figure.querySelector("img");
    img.addEventListener("load", () => { figure.hidden = !img.dataset.wanted || img.getAttribute("src") !== img.dataset.wanted; });
    img.addEventListener("error", () => { figure.hidden = true; });
  }
}

// Resolves once `img` is not loading: a plot still on its way is let finish, since changing its src would
// abort the request.
function settled(img) {
  if (!img.getAttribute("src") || img.complete) return Promise.resolve();
  return new Promise((resolve) => {
    img.addEventListener("load", resolve, { once: true });
    img.addEventListener("error", resolve, { once: true });
  });
}

// The chosen model's plots; ask which exist first, so a model without them costs no 404s.
export async function loadPlots() {
  const seq = ++plotSeq;
  const figures = [...document.querySelectorAll(".plots figure")];
  for (const figure of figures) {
    figure.hidden = true;
    figure.querySelector("img").dataset.wanted = "";
  }
  let available = [];
  try {
    const response = await fetch(`/model/plots${query()}`, { headers: { Accept: "application/json" } });
    if (seq !== plotSeq) return;
    if (response.ok) available = (await response.json()).available || [];
  } catch {
    return;
  }
  await Promise.all(figures.map((figure) => settled(figure.querySelector("img"))));
  if (seq !== plotSeq) return;
  for (const figure of figures) {
    const img = figure.querySelector("img");
    const kind = figure.id.replace(/^plot-/, "");
    if (!available.includes(kind)) {
      img.removeAttribute("src");
      continue;
    }
    const url = `/model/plots/${encodeURIComponent(kind)}${query()}`;
    figure.querySelector("a").href = url;
    img.dataset.wanted = url;
    if (img.getAttribute("src") === url && img.complete && img.naturalWidth > 0) figure.hidden = false;
    else img.src = url;
  }
}

// What the model expects next: GET /next's likeliest characters after the text in the score box, as a small
// bar chart that follows the typing. Each answer is for one (model, text); an answer to an older question is
// dropped, so a slow earlier reply never overwrites a newer one.

import { UNREACHABLE, problemsOf } from "./errors.js";
import { modelVanished, unknownModel } from "./models.js";
import { modelInfo, modelParam, modelVocab, state } from "./state.js";
import { $ } from "./ui.js";
import { shownChar, unreadable } from "./vocab.js";

const TOP = 8;
const DEBOUNCE_MS = 120;
const MAX_PREFIX = 256; // GET /next's limit on prefix
const NEXT_FIELDS = { prefix: { id: "score-input" } }; // /next's prefix is the text in the "Name" box

let seq = 0;
let timer = null;
let asked = null; // the (model, text) of the chart shown or on its way

// "25%", "3.3%", "<0.1%": whole percentages from 10% up, one decimal below.
export function percentText(prob) {
  const percent = prob * 100;
  if (percent < 0.05) return "<0.1%";
  return `${percent >= 9.95 ? percent.toFixed(0) : percent.toFixed(1)}%`;
}

function label(char, endToken) {
  if (char === endToken) return "end";
  if (char === " ") return "space";
  return char;
}

function showMessage(message) {
  const chart = $("next-chart");
  $("next-title").textContent = "What comes next";
  $("next-bars").replaceChildren();
  $("next-bars").hidden = true;
  $("next-model").textContent = "";
  const note = $("next-message");
  note.textContent = message;
  note.hidden = false;
  chart.dataset.state = "message";
  delete chart.dataset.prefix;
}

function render(data) {
  const chart = $("next-chart");
  const info = modelInfo(data.model);
  const endToken = info && Array.isArray(info.vocab) ? info.vocab[0] : ".";
  const prefix = typeof data.prefix === "string" ? data.prefix : "";
  const next = Array.isArray(data.next) ? data.next : [];
  $("next-title").textContent = prefix ? `After “${prefix}” the model expects` : "To start a name the model expects";
  const top = Math.max(...next.map((n) => n.prob), 1e-12);
  const items = next.map((entry) => {
    const item = document.createElement("li");
    item.className = entry.char === endToken ? "next-item end" : "next-item";
    item.dataset.char = entry.char;
    item.dataset.prob = String(entry.prob);
    const char = document.createElement("span");
    char.className = "next-char";
    char.textContent = label(entry.char, endToken);
    const bar = document.createElement("span");
    bar.className = "next-bar";
    bar.setAttribute("aria-hidden", "true");
    const fill = document.createElement("span");
    fill.className = "next-fill";
    fill.style.setProperty("--share", `${Math.max((entry.prob / top) * 100, 0.5).toFixed(1)}%`);
    bar.append(fill);
    const percent = document.createElement("span");
    percent.className = "next-percent";
    percent.textContent = percentText(entry.prob);
    const what = entry.char === endToken ? "end of name" : `“${entry.char}”`;
    item.title = `${what}: p = ${(entry.prob * 100).toPrecision(3)}%, loss ${entry.loss.toFixed(2)} nats`;
    item.append(char, " ", bar, " ", percent); // read as "m 25%"
    return item;
  });
  $("next-bars").replaceChildren(...items);
  $("next-bars").hidden = false;
  $("next-message").hidden = true;
  $("next-model").textContent = data.model || "";
  chart.dataset.state = "chart";
  chart.dataset.prefix = prefix;
  chart.dataset.model = data.model || "";
}

async function ask(text, key) {
  asked = key;
  const mine = ++seq;
  const chart = $("next-chart");
  const vocab = modelVocab();
  const unknown = vocab ? unreadable(text, vocab) : [];
  if (unknown.length) {
    showMessage(`No chart: ${unknown.map(shownChar).join(", ")} ${unknown.length === 1 ? "is not a character" : "are not characters"} ${state.modelName || "the model"} knows.`);
    return;
  }
  if (text.trim().length > MAX_PREFIX) {
    showMessage(`No chart: the model reads at most ${MAX_PREFIX} characters here.`);
    return;
  }
  chart.setAttribute("aria-busy", "true");
  try {
    const params = new URLSearchParams({ ...modelParam(), prefix: text, top: String(TOP) });
    const response = await fetch(`/next?${params}`, { headers: { Accept: "application/json" } });
    if (mine !== seq) return;
    if (!response.ok) {
      asked = null; // worth asking again
      const gone = await unknownModel(response);
      if (gone) {
        modelVanished(gone);
        return;
      }
      const problems = await problemsOf(response, NEXT_FIELDS);
      if (mine !== seq) return;
      showMessage(`No chart. ${problems.map((p) => p.message).join(" ")}`);
      return;
    }
    const data = await response.json();
    if (mine === seq) render(data);
  } catch {
    if (mine === seq) {
      asked = null;
      showMessage(`No chart. ${UNREACHABLE}`);
    }
  } finally {
    if (mine === seq) chart.setAttribute("aria-busy", "false");
  }
}

// Chart what follows `text`, ~120 ms after the last call (typing); `force` asks again even for the same text.
export function expectNext(text, { force = false } = {}) {
  clearTimeout(timer);
  const key = `${state.modelName}\n${text}`;
  if (key === asked && !force) return;
  timer = setTimeout(() => ask(text, key), DEBOUNCE_MS);
}

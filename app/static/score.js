// Score: POST /score, the heat strip of per-character losses, and where the score stands among real names.

import { modelVanished, unknownModel } from "./models.js";
import { expectNext } from "./next.js";
import { modelInfo, modelParam, modelVocab, state, updateUrl } from "./state.js";
import { UNREACHABLE, problemsOf } from "./errors.js";
import { $, fmt, scrollBehaviour, showError } from "./ui.js";

const HEAT_MAX_LOSS = 5; // nats; losses above this get the hottest colour
const TYPE_A_NAME = "Type a name to score.";
const SCORE_FIELDS = { text: { id: "score-input", empty: TYPE_A_NAME } }; // /score's body, the "Name" box

function heatColour(loss) {
  // Green (expected) through yellow to red (surprising); light tones so dark text stays readable.
  const t = Math.min(Math.max(loss / HEAT_MAX_LOSS, 0), 1);
  const hue = 145 * (1 - t);
  const lightness = 76 + 2 * Math.sin(Math.PI * t);
  return `hsl(${hue.toFixed(0)} ${(62 + 20 * t).toFixed(0)}% ${lightness.toFixed(0)}%)`;
}

function describeVocab(model) {
  const vocab = modelVocab(model);
  if (!vocab) return "its own characters, trimmed";
  return vocab.every((c) => c === c.toLowerCase()) ? "lower-case letters, without surrounding spaces" : `“${vocab.join("")}”`;
}

// "More name-like than 59% of real names": the share of the dev set's names with a higher mean loss. Whole
// percentages, but never "100%" or "0%" unless the text is past every real name compared.
export function percentileText(percentile) {
  if (percentile >= 100) return "More name-like than every real name it was compared with";
  if (percentile <= 0) return "Less name-like than every real name it was compared with";
  const shown = Math.min(Math.max(Math.round(percentile), 1), 99);
  return `More name-like than ${shown}% of real names`;
}

function renderVerdict(data) {
  const verdict = $("score-verdict");
  if (typeof data.percentile !== "number" || !Number.isFinite(data.percentile)) {
    verdict.hidden = true;
    return;
  }
  $("score-percentile").textContent = percentileText(data.percentile);
  $("score-percentile").dataset.percentile = String(data.percentile);
  $("meter-fill").style.setProperty("--share", `${Math.min(Math.max(data.percentile, 0), 100)}%`);
  verdict.hidden = false;
}

function renderScore(data) {
  const strip = $("score-chars");
  strip.replaceChildren();
  const chars = data.chars || [];
  chars.forEach((position, index) => {
    const isEnd = index === chars.length - 1 && chars.length === [...data.text].length + 1;
    const cell = document.createElement("div");
    cell.className = isEnd ? "heat end" : "heat";
    cell.setAttribute("role", "listitem");
    cell.tabIndex = 0;
    cell.dataset.loss = String(position.loss);
    cell.dataset.prob = String(position.prob);
    cell.dataset.char = position.char;
    cell.style.setProperty("--heat", heatColour(position.loss));
    const what = isEnd ? "end of name" : `“${position.char}”`;
    const tip = `${what}: p = ${(position.prob * 100).toPrecision(3)}%, loss ${fmt(position.loss, 2)} nats`;
    cell.title = tip;
    cell.setAttribute("aria-label", tip);
    const ch = document.createElement("span");
    ch.className = "ch";
    ch.textContent = isEnd ? "end" : position.char;
    const loss = document.createElement("span");
    loss.className = "loss";
    loss.textContent = fmt(position.loss, 2);
    const tooltip = document.createElement("span");
    tooltip.className = "tip";
    tooltip.setAttribute("aria-hidden", "true");
    tooltip.textContent = `p = ${(position.prob * 100).toPrecision(3)}%`;
    cell.append(ch, loss, tooltip);
    strip.append(cell);
  });
  strip.dataset.text = data.text;
  strip.dataset.model = data.model || "";
  $("score-model").textContent = data.model || "";
  $("score-by").hidden = !data.model;
  renderVerdict(data);
  $("total-loss").textContent = fmt(data.total_loss, 2);
  $("mean-loss").textContent = fmt(data.mean_loss, 3);
  $("perplexity").textContent = fmt(data.perplexity, 2);
  const info = modelInfo(data.model ?? state.modelName);
  const devLoss = info && info.dev_loss;
  $("score-compare").textContent = typeof devLoss === "number"
    ? `For comparison, held-out names average ${devLoss.toFixed(3)} nats per character (dev set). Lower means more name-like.`
    : "Lower means more name-like.";
  $("score-result").hidden = false;
}

// Bring the score (down to the letters' strip) into view unless it is: the whole card from its title if that
// fits the window, else from the result's top (a phone, with the chart of what comes next above it).
function revealScore() {
  const section = $("score-title").closest("section");
  const top = section.getBoundingClientRect().top;
  const resultTop = $("score-result").getBoundingClientRect().top;
  const bottom = $("score-chars").getBoundingClientRect().bottom;
  if (resultTop >= 0 && bottom <= window.innerHeight) return false;
  const target = bottom - top + 12 <= window.innerHeight ? section : $("score-result");
  target.scrollIntoView({ block: "start", behavior: scrollBehaviour() });
  return true;
}

// The generated name being scored is shown pressed; any other is not.
export function markScoredName(text) {
  for (const button of document.querySelectorAll("#names .name-button")) {
    const item = button.closest("li");
    button.setAttribute("aria-pressed", String(text !== null && item.dataset.name === text));
  }
}

function scoreFailed(message, aboutTheName) {
  showError($("score-error"), message);
  $("score-error").classList.remove("note");
  $("score-result").hidden = true;
  $("back-to-names").hidden = true;
  if (aboutTheName) $("score-input").setAttribute("aria-invalid", "true");
  state.scoredText = null;
  markScoredName(null);
}

// Score `rawText`. With reveal (a name was chosen in the list) the result is scrolled into view if it is not,
// and then a "Back to the names" button returns to `from`, the name's button.
export async function scoreText(rawText, { reveal: bringIntoView = false, from = null } = {}) {
  const seq = ++state.scoreSeq;
  $("score-input").removeAttribute("aria-invalid");
  expectNext(rawText);
  if (rawText.trim() === "") {
    scoreFailed(TYPE_A_NAME, true);
    return;
  }
  try {
    const response = await fetch("/score", {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({ text: rawText, ...modelParam() }),
    });
    if (seq !== state.scoreSeq) return; // a newer keystroke already asked
    if (!response.ok) {
      const gone = await unknownModel(response);
      if (gone) {
        modelVanished(gone, { score: true });
        return;
      }
      const problems = await problemsOf(response, SCORE_FIELDS);
      if (seq !== state.scoreSeq) return;
      scoreFailed(problems.map((p) => p.message).join("\n"), problems.some((p) => p.field));
      return;
    }
    const data = await response.json();
    if (seq !== state.scoreSeq) return;
    // The server may normalise (trim, lower-case); it returns the text it actually scored, and we say so.
    const changed = data.normalized === true || (data.normalized === undefined && data.text !== rawText);
    const note = changed ? `Scored as “${data.text}”: the model knows only ${describeVocab(data.model)}.` : "";
    showError($("score-error"), note);
    $("score-error").classList.toggle("note", Boolean(note));
    renderScore(data);
    state.scoredText = data.text;
    markScoredName(data.text);
    updateUrl();
    state.scoredFrom = from;
    // Scrolled away from the list to show the score: offer the way back to the name.
    const scrolled = bringIntoView && revealScore();
    $("back-to-names").hidden = !(from && scrolled);
  } catch {
    if (seq === state.scoreSeq) scoreFailed(UNREACHABLE, false);
  }
}

// The model changed: the score shown is another model's, so it goes until the new model has answered.
export function clearScore() {
  state.scoreSeq++;
  showError($("score-error"), "");
  $("score-input").removeAttribute("aria-invalid");
  $("score-result").hidden = true;
  $("back-to-names").hidden = true;
  state.scoredText = null;
  markScoredName(null);
}

export function setUpScoring() {
  for (const example of document.querySelectorAll("#score-examples .example")) {
    example.addEventListener("click", () => {
      $("score-input").value = example.dataset.example;
      scoreText(example.dataset.example);
    });
  }
  $("back-to-names").addEventListener("click", () => {
    const button = state.scoredFrom && state.scoredFrom.isConnected ? state.scoredFrom : $("names");
    button.scrollIntoView({ block: "center", behavior: scrollBehaviour() });
    if (button.focus) button.focus({ preventScroll: true });
  });
}

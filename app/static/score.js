// Score: POST /score and the heat strip of per-character losses.

import { state, updateUrl } from "./state.js";
import { $, errorMessage, fmt, showError } from "./ui.js";

const HEAT_MAX_LOSS = 5; // nats; losses above this get the hottest colour

function heatColour(loss) {
  // Green (expected) through yellow to red (surprising); light tones so dark text stays readable.
  const t = Math.min(Math.max(loss / HEAT_MAX_LOSS, 0), 1);
  const hue = 145 * (1 - t);
  const lightness = 76 + 2 * Math.sin(Math.PI * t);
  return `hsl(${hue.toFixed(0)} ${(62 + 20 * t).toFixed(0)}% ${lightness.toFixed(0)}%)`;
}

function describeVocab() {
  const vocab = state.model && Array.isArray(state.model.vocab) ? state.model.vocab.slice(1) : null;
  if (!vocab) return "its own characters, trimmed";
  return vocab.every((c) => c === c.toLowerCase()) ? "lower-case letters, without surrounding spaces" : `“${vocab.join("")}”`;
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
  $("total-loss").textContent = fmt(data.total_loss, 2);
  $("mean-loss").textContent = fmt(data.mean_loss, 3);
  $("perplexity").textContent = fmt(data.perplexity, 2);
  const devLoss = state.model && state.model.dev_loss;
  $("score-compare").textContent = typeof devLoss === "number"
    ? `For comparison, held-out names average ${devLoss.toFixed(3)} nats per character (dev set). Lower means more name-like.`
    : "Lower means more name-like.";
  $("score-result").hidden = false;
}

export async function scoreText(rawText) {
  const seq = ++state.scoreSeq;
  if (rawText.trim() === "") {
    showError($("score-error"), "Type a name to score.");
    return;
  }
  try {
    const response = await fetch("/score", {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({ text: rawText }),
    });
    if (seq !== state.scoreSeq) return; // a newer keystroke already asked
    if (!response.ok) {
      const message = await errorMessage(response);
      if (seq !== state.scoreSeq) return;
      showError($("score-error"), message);
      $("score-error").classList.remove("note");
      $("score-result").hidden = true;
      return;
    }
    const data = await response.json();
    if (seq !== state.scoreSeq) return;
    // The server may normalise (trim, lower-case); it returns the text it actually scored, and we say so.
    const changed = data.normalized === true || (data.normalized === undefined && data.text !== rawText);
    const note = changed ? `Scored as “${data.text}”: the model knows only ${describeVocab()}.` : "";
    showError($("score-error"), note);
    $("score-error").classList.toggle("note", Boolean(note));
    renderScore(data);
    state.scoredText = data.text;
    updateUrl();
  } catch (error) {
    if (seq === state.scoreSeq) showError($("score-error"), `Could not reach the server: ${error.message}`);
  }
}

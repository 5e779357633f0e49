// What the page currently shows, and the URL that reproduces it.

import { $ } from "./ui.js";

export const SCORE_PARAM = "text"; // the scored name also rides in the URL, so a shared link shows it too

export const state = {
  model: null,
  sampleQuery: null, // the query string of the names shown
  samples: [], // the names shown: [{name, novel, log_prob}]
  scoredText: null,
  scoredFrom: null, // the name button that asked for the current score, if any
  scoreSeq: 0,
  sampleSeq: 0,
  linkNote: "",
};

// The query string holds the settings of the names shown (seed included) and the scored name.
export function updateUrl() {
  const params = new URLSearchParams(state.sampleQuery || "");
  if (state.scoredText) params.set(SCORE_PARAM, state.scoredText);
  const query = params.toString();
  history.replaceState(null, "", query ? `${location.pathname}?${query}` : location.pathname);
  $("copy-link").hidden = !state.sampleQuery;
}

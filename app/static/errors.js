// Every problem the page reports, in the page's own words, from one place: the API's error answers
// (app/http/errors.py: a 422's {"detail": [{loc, msg, type}]}, a {"detail": "one line"} with 404/408/413/503, or
// no JSON at all from something in between), the notes of an answer, a server out of reach, and the page's
// own checks (checks.js), which use the same phrases.
//
// A control hands over the API parameters it shows, `{param: {id, must, empty}}`: `id` is the control on
// screen, whose label names it ("Names", never "n"); `must` says what a valid value is ("a whole number,
// 1 or more"), for any type or range error; `empty` says what to do when it is left empty.

import { modelVocab } from "./state.js";
import { fieldLabel } from "./ui.js";
import { describeVocab, shownChar } from "./vocab.js";

// Phrases shared with checks.js: the page's check and the server's answer word the same thing alike.
export const phrase = {
  mustBe: (label, must) => `${label} must be ${must}.`,
  atMost: (label, limit) => `${label} must be at most ${limit}.`,
  moreThan: (label, value, other, limit) => `${label} (${value}) can't be more than ${other} (${limit}).`,
  longerThan: (label, count, other, limit) =>
    `${label} has ${count} ${count === 1 ? "letter" : "letters"}, more than ${other} (${limit}).`,
  tooLong: (label, count, limit) => `${label} is too long: ${count ? `${count} characters, ` : ""}at most ${limit}.`,
  outside: (label, chars, vocab, more = 0) =>
    `${label} can only use ${vocab ? describeVocab(vocab) : "the model's characters"}, not `
    + `${listed(chars)}${more ? ` and ${more} more` : ""}.`,
};

export const UNREACHABLE = "Could not reach the server. Check the connection, then try again.";

// pydantic's checks of one value's type or range: the control's `must` says it best.
const VALUE_TYPES = new Set([
  "int_parsing", "int_type", "int_from_float", "float_parsing", "float_type", "finite_number", "greater_than",
  "greater_than_equal", "less_than", "less_than_equal", "bool_parsing", "bool_type", "string_type",
]);

// A Python string literal as the server's messages quote one ('é', "'", '\u200b') -> its text.
function pythonString(literal) {
  return literal.slice(1, -1).replace(/\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|.)/g, (_, escape) => {
    if (escape.length > 1) return String.fromCodePoint(parseInt(escape.slice(1), 16));
    return { n: "\n", r: "\r", t: "\t" }[escape] ?? escape;
  });
}

const QUOTED = String.raw`('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")`;
// "character '🙂' at position 0 is outside the model's vocabulary ('abc…')": the character, the vocabulary.
const OUTSIDE = new RegExp(
  String.raw`^character ${QUOTED} at position \d+ ` + String.raw`is outside the model's vocabulary \(${QUOTED}\)`,
);

// Each Python string literal in a server's phrase ("starts with 'ka' and ends with 'son'") as the page quotes
// text: “ka”. Only for phrases whose own words have no quote marks.
function requoted(text) {
  return text.replace(new RegExp(QUOTED, "g"), (literal) => `“${pythonString(literal)}”`);
}

function listed(chars) {
  return chars.map(shownChar).join(", ");
}

function number(pattern, text) {
  const match = pattern.exec(text);
  return match ? Number(match[1]) : null;
}

// A control-less message made readable: API names replaced by the labels on screen, Python's operators by words.
function humanise(message, fields) {
  let text = String(message).replace(/^Value error, /, "").replace(/ \(the [a-z_]+ setting\)/g, "");
  const label = (param) => (param in fields ? fieldLabel(fields[param].id) : null);
  text = text.replace(/\b([a-z][a-z_]*)=(True|False|None|'[^']*'|"[^"]*"|[-+\w.]+)/g, (whole, name, value) => {
    const shown = label(name);
    if (!shown) return whole;
    if (value === "True") return shown;
    if (value === "False") return `not “${shown}”`;
    if (value === "None") return `${shown} off`;
    return `${shown} ${value.replace(/^['"](.*)['"]$/, "“$1”")}`;
  });
  const names = Object.keys(fields).filter((n) => /^[a-z_]{2,}$/.test(n)).sort((a, b) => b.length - a.length);
  if (names.length) text = text.replace(new RegExp(`\\b(${names.join("|")})\\b`, "g"), (name) => label(name) || name);
  text = text.replace(/^([a-z])\b/, (name) => label(name) || name); // "n must be …": a one-letter name leads
  text = text.replace(/ <= /g, " at most ").replace(/ >= /g, " at least ");
  return `${text.charAt(0).toUpperCase()}${text.slice(1).replace(/\.$/, "")}.`;
}

// One 422 entry about a parameter the page has a control for, in words.
function explain(item, param, fields) {
  const { id, must, empty } = fields[param];
  const label = fieldLabel(id) || param;
  const type = String(item.type || "");
  const msg = String(item.msg || "");
  const otherLabel = (name) => (name in fields ? fieldLabel(fields[name].id) : name);
  if (type === "extra_forbidden") return `This server cannot do “${label}”: clear it and try again.`;
  if (type === "empty" || type === "missing" || type === "string_too_short") return empty || `${label} is empty.`;
  const most = number(/at most (\d+)/, msg);
  if (type === "too_big" && most !== null) return phrase.atMost(label, most);
  if (VALUE_TYPES.has(type) && must) return phrase.mustBe(label, must);
  if (type === "too_long" || type === "string_too_long") {
    // "has 70 characters; the limit is 64", or, before reading a long text at all, "has 300 characters as
    // sent; at most 256 characters … are read, for a limit of 64 characters": the limit is the last number.
    const limit = number(/limit (?:is|of) (\d+)/, msg) ?? most;
    if (limit !== null) return phrase.tooLong(label, number(/has (\d+) characters/, msg), limit);
  }
  if (type === "order") {
    let match = /must be at most (\w+) \((\d+)\), got (\d+)/.exec(msg);
    if (match) return phrase.moreThan(label, match[3], otherLabel(match[1]), match[2]);
    match = /has (\d+) characters, more than (\w+) \((\d+)\)/.exec(msg);
    if (match) return phrase.longerThan(label, Number(match[1]), otherLabel(match[2]), match[3]);
  }
  if (type === "repeated") return `${label} is given more than once.`;
  if (type === "pattern") return badPattern(label, msg);
  if (type === "unsatisfiable") return unsatisfiable(label, msg);
  if (type === "conflict") return conflict(label, msg, otherLabel);
  if (type === "too_complex") return `${label} makes the settings too complex to combine: simplify them.`;
  const text = humanise(msg, fields);
  if (text.startsWith(label)) return text;
  const should = /^(?:Input|Value) should (.*)$/.exec(text);
  return should ? `${label} should ${should[1]}` : `${label}: ${text.charAt(0).toLowerCase()}${text.slice(1)}`;
}

// A pattern the server cannot use (app/engine/patterns.py): its positions count from 0 in the pattern as sent,
// which is as typed (sampleform.js), so "at character N" counts as a person does.
function badPattern(label, msg) {
  let match = /^has (\d+) characters; the limit is (\d+)$/.exec(msg);
  if (match) return phrase.tooLong(label, Number(match[1]), match[2]);
  match = /^is not a valid regular expression: (.*?)(?: at position (\d+))?$/.exec(msg);
  if (match) {
    const at = match[2] === undefined ? "" : ` (at character ${Number(match[2]) + 1})`;
    return `${label} is not a valid regular expression: ${match[1]}${at}.`;
  }
  match = /^uses (.+?) at position (\d+): not supported/.exec(msg);
  if (match) {
    return `${label} uses ${match[1]} at character ${Number(match[2]) + 1}, which a name cannot be checked `
      + "against letter by letter: no backreferences, lookaround, anchors inside, atomic groups, possessive "
      + "quantifiers or conditionals.";
  }
  if (msg.startsWith("is too complex")) return `${label} is too complex to use: simplify it.`;
  if (msg.startsWith("could not be compiled")) return `${label} could not be read: try a simpler one.`;
  return `${label} ${msg.replace(/\.$/, "")}.`;
}

// Settings no name can meet (app/engine/constraint_compiler.py), marked on the setting the server names.
function unsatisfiable(label, msg) {
  const lengths = String.raw`(of (?:exactly )?\d+(?: to \d+)? characters)`;
  let match = new RegExp(`^leaves no name ${lengths} possible$`).exec(msg);
  if (match) return `${label} leaves no name ${match[1]} possible.`;
  match = new RegExp(
    `^matches no name ${lengths} over the model's alphabet \\(${QUOTED}\\)`
    + `(?:; the characters it names outside it never match: ${QUOTED})?$`,
  ).exec(msg);
  if (match) {
    const vocab = [...pythonString(match[2])];
    const outside = match[3] === undefined ? [] : [...pythonString(match[3])];
    const none = outside.length ? `: no name has ${listed(outside)}` : "";
    // "Mar.*" over a to z: the pattern is read as typed, case and all.
    const recased = outside.some((c) => [c.toLowerCase(), c.toUpperCase()].some((r) => r !== c && vocab.includes(r)));
    const hint = recased ? " It is case-sensitive: write it as the names are written, or start it with (?i)." : "";
    return `${label} matches no name ${match[1]} made of ${describeVocab(vocab)}${none}.${hint}`;
  }
  match = new RegExp(`^no name ${lengths} (.+?)(: these constraints cannot all hold together)?$`, "s").exec(msg);
  if (match) return `No name ${match[1]} ${requoted(match[2])}${match[3] ? ": these can't all hold together" : ""}.`;
  return `${label} ${msg.replace(/\.$/, "")}.`;
}

// Two settings that contradict each other before any name is drawn (app/engine/constraint_params.py).
function conflict(label, msg, otherLabel) {
  let match = new RegExp(`^has ${QUOTED}, which the ([a-z_]+) ${QUOTED} needs$`).exec(msg);
  if (match) {
    const chars = [...pythonString(match[1])];
    const needs = `${otherLabel(match[2])} “${pythonString(match[3])}” needs ${chars.length === 1 ? "it" : "them"}`;
    return `${label} can't include ${listed(chars)}: ${needs}.`;
  }
  match = /^cannot be combined with ([a-z_]+) or ([a-z_]+)/.exec(msg);
  if (match) {
    return `${label} can't be combined with ${otherLabel(match[1])} or ${otherLabel(match[2])}: clear them first.`;
  }
  return `${label} ${msg.replace(/\.$/, "")}.`;
}

// A 422's list: one message per control (its characters outside the vocabulary gathered into one).
function invalidRequest(items, fields) {
  const problems = [];
  const outside = new Map(); // param -> {chars, more, vocab}
  for (const item of items) {
    const loc = Array.isArray(item.loc) ? item.loc : [];
    const param = ["query", "body"].includes(loc[0]) ? loc[1] : loc[0];
    const field = typeof param === "string" && Object.hasOwn(fields, param) ? param : null;
    if (!field) {
      const what = humanise(item.msg || "invalid", fields);
      problems.push({ field: null, message: `The server could not read the request: ${what}` });
      continue;
    }
    if (item.type === "outside_vocabulary") {
      const seen = outside.get(field) || { chars: [], more: 0, vocab: null };
      const match = OUTSIDE.exec(String(item.msg || ""));
      const more = number(/(\d+) more characters/, String(item.msg || ""));
      if (match) {
        const char = pythonString(match[1]);
        if (!seen.chars.includes(char)) seen.chars.push(char);
        seen.vocab = [...pythonString(match[2])];
      } else if (more !== null) {
        seen.more += more;
      }
      if (!outside.has(field)) problems.push({ field, outside: seen });
      outside.set(field, seen);
      continue;
    }
    problems.push({ field, message: explain(item, field, fields) });
  }
  return problems.map((p) => {
    if (!p.outside) return p;
    const label = fieldLabel(fields[p.field].id);
    return { field: p.field, message: phrase.outside(label, p.outside.chars, p.outside.vocab, p.outside.more) };
  });
}

// Any other refusal: one sentence about the server, none of its internals.
function refusal(response, body) {
  const { status } = response;
  const detail = body && typeof body.detail === "string" ? body.detail : "";
  const retry = Number(response.headers.get("Retry-After") || number(/retry in (\d+) s/, detail));
  const later = retry > 0 ? `in ${retry} s` : "in a moment";
  if (status === 429 || status === 503) return `The server is busy. Try again ${later}.`;
  if (status === 408) return "The request took too long to reach the server. Try again.";
  if (status === 413) {
    const bytes = number(/(\d+)-byte/, detail);
    const limit = bytes ? ` (${bytes.toLocaleString("en-US")} bytes)` : "";
    return `That is more than the server takes in one request${limit}. Try something shorter.`;
  }
  if (status >= 500 && body) {
    const id = typeof body.request_id === "string" && body.request_id ? ` (request ${body.request_id})` : "";
    return `Something went wrong on the server${id}. Try again; if it keeps happening, tell whoever runs it.`;
  }
  if (status >= 500) {
    return `The server could not answer (${`${status} ${response.statusText}`.trim()}). Try again ${later}.`;
  }
  return `The server refused the request (${status}). Reload the page and try again.`;
}

// An error response as [{field, message}], in the page's words. `field` is the parameter whose control the
// message is about (mark `fields[field].id`), or null when it is about the request or the server.
export async function problemsOf(response, fields = {}) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  if (response.status === 422 && body && Array.isArray(body.detail) && body.detail.length) {
    return invalidRequest(body.detail, fields);
  }
  return [{ field: null, message: refusal(response, body) }];
}

// The model the link names is not served.
export function unknownModelInLink(requested, models, fallback) {
  return `There is no model “${requested}” on this server (it has ${models.join(", ")}). `
    + `Showing ${fallback}, the default, instead.`;
}

// The server no longer has the chosen model (restarted with other files): its 404 lists what it has.
export function modelGone(gone, models, now) {
  const has = models.length ? ` (it has ${models.join(", ")})` : "";
  return `The server no longer has the model “${gone}”${has}.${now ? ` Showing ${now} instead.` : ""}`;
}

// How the server drew the names, when a note says (app/engine/constraint_params.py): "steered" (each letter only
// among those that can still lead to a name that fits), "resampled" (exact), or null for any other note.
// The page says these in its own words (generate.js), not as changes to what was sent.
export function samplingNote(note) {
  if (/^constraints: each character was drawn/.test(String(note))) return "steered";
  if (/^exact: the names were drawn/.test(String(note))) return "resampled";
  return null;
}

// What an answer says it changed about a value sent ("prefix: folded into the model's vocabulary: 'É' -> 'e'",
// "prefix: surrounding whitespace was removed"), in words; a change nobody could see (NFC) is not said.
export function noteText(note, fields) {
  if (samplingNote(note)) return "";
  const match = /^([a-z_]+)(?:\[\d+\])?: (.*)$/.exec(String(note));
  if (!match || !(match[1] in fields)) return humanise(note, fields);
  const label = fieldLabel(fields[match[1]].id);
  const what = match[2];
  if (what.startsWith("surrounding whitespace")) return `The spaces around ${label} were left out.`;
  if (what.startsWith("Unicode was normalized")) return "";
  const pairs = [...what.matchAll(new RegExp(`${QUOTED} -> ${QUOTED}`, "g"))];
  if (pairs.length) {
    const read = pairs.map((p) => `${shownChar(pythonString(p[1]))} was read as ${shownChar(pythonString(p[2]))}`);
    const vocab = modelVocab();
    return `In ${label}, ${read.join(", ")}${vocab ? `: the model knows only ${describeVocab(vocab)}` : ""}.`;
  }
  return humanise(note, fields);
}

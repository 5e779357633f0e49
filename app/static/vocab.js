// A model's vocabulary as the server reads text against it (app/engine/textrules.py): trim, NFC, then each
// character outside the vocabulary folded in by case or by dropping its accents. The page checks text the
// same way before asking, so a typo costs no failed request, and describes a vocabulary in plain words.

function withoutAccents(char) {
  const base = char.normalize("NFD").replace(/\p{M}/gu, "");
  return [...base].length === 1 ? base : char;
}

// The characters of `text` that no fold maps into `vocab` (the vocabulary without its end token), once each.
export function unreadable(text, vocab) {
  const allowed = new Set(vocab);
  const letters = vocab.filter((c) => c.toLowerCase() !== c.toUpperCase());
  const lower = letters.length > 0 && letters.every((c) => c === c.toLowerCase());
  const upper = letters.length > 0 && letters.every((c) => c === c.toUpperCase());
  const recase = (c) => (lower ? c.toLowerCase() : upper ? c.toUpperCase() : c);
  const readable = (c) => [c, recase(c), withoutAccents(c), recase(withoutAccents(c))].some((f) => allowed.has(f));
  return [...new Set([...text.trim().normalize("NFC")].filter((c) => !readable(c)))];
}

const A_TO_Z = "abcdefghijklmnopqrstuvwxyz";

// One character as a message shows it: “é”, "a space", or its code point when it cannot be seen (U+200B).
export function shownChar(char) {
  if (char === " ") return "a space";
  if (/^[\p{C}\p{Z}\p{M}]$/u.test(char)) return `U+${char.codePointAt(0).toString(16).toUpperCase().padStart(4, "0")}`;
  return `“${char}”`;
}

// "the letters a to z", "the letters a to z and “-”", or "these characters: abc…".
export function describeVocab(vocab) {
  const letters = [...vocab].sort().join("");
  if (letters === A_TO_Z) return "the letters a to z";
  if (letters === A_TO_Z.toUpperCase()) return "the letters A to Z";
  const extras = [...vocab].filter((c) => !A_TO_Z.includes(c));
  if ([...A_TO_Z].every((c) => vocab.includes(c)) && extras.length <= 4) {
    return `the letters a to z and ${extras.map(shownChar).join(", ")}`;
  }
  return `these characters: ${letters}`;
}

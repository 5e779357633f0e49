"""`namegen`: sample and score offline through the same engine and validation as the HTTP service; serve it;
train, evaluate and tune models (those three need the repository's training/ package)."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import importlib
import json
import os
import sys
from collections.abc import Sequence
from typing import Any

import torch
from pydantic import ValidationError

from app.engine.artifact import ArtifactError, load_artifact
from app.engine.engine import Engine
from app.engine.problems import FieldProblem, InvalidInput, describe
from app.engine.results import NextChars, SampleResult, ScoredText
from app.engine.store import UnknownModel, chosen_model_file
from app.http.schemas import NextQuery, SampleQuery
from app.settings import Settings

EXIT_BAD_INPUT = 2
EXIT_BAD_MODEL = 3
# Each parses its own arguments: `namegen train ARGS` is `python -m training.train ARGS`, with prog "namegen train".
TRAINING_COMMANDS = {
    "train": ("training.train", "train a model on a words file and write it with its model card"),
    "evaluate": ("training.evaluate", "a model's loss on a words file, from its TorchScript forward"),
    "sweep": ("training.sweep", "search hyperparameters on the dev split within a time budget"),
}


class CommandParser(argparse.ArgumentParser):
    """A subcommand's parser: an argument it does not know is its own error, shown with its own usage (argparse
    would hand it up to `namegen`, whose usage says nothing of the subcommand's options)."""

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        parsed, unknown = super().parse_known_args(args, namespace)
        if unknown:
            self.error(f"unrecognized arguments: {' '.join(unknown)}")
        return parsed, unknown


def build_parser() -> argparse.ArgumentParser:
    # No abbreviations anywhere: `--n` must not quietly mean --novel-only.
    parser = argparse.ArgumentParser(prog="namegen", description=__doc__, allow_abbrev=False)
    commands = parser.add_subparsers(dest="command", required=True, parser_class=CommandParser)
    common = CommandParser(add_help=False, allow_abbrev=False)  # the options every model command shares
    common.add_argument(
        "--model",
        metavar="NAME|PATH",
        help="a model of the NAMEGEN_MODEL_PATH directory by name (e.g. us-surnames), or a model file's path "
        "(default: the default model)",
    )
    common.add_argument("--json", action="store_true", help="print exactly what the HTTP API returns")

    sample = commands.add_parser("sample", parents=[common], help="invent names (like GET /sample)", allow_abbrev=False)
    sample.add_argument("-n", type=int, default=10, help="how many names (default 10)")
    sample.add_argument("--temperature", type=float, default=1.0)
    sample.add_argument("--seed", type=int, help="same seed and options -> same names as GET /sample")
    sample.add_argument("--top-k", type=int)
    sample.add_argument("--top-p", type=float)
    sample.add_argument("--prefix", default="")
    sample.add_argument("--min-length", type=int, default=1)
    sample.add_argument("--max-length", type=int)
    sample.add_argument("--novel-only", action="store_true", help="only names not in the training data")
    sample.add_argument("--unique", action="store_true", help="no name twice")
    sample.add_argument("--suffix", default="", help="every name ends with it")
    sample.add_argument("--contains", default="", help="every name contains it")
    sample.add_argument("--excludes", default="", metavar="LETTERS", help="letters that never appear")
    sample.add_argument("--pattern", metavar="REGEX", help="a regular expression the whole name matches")
    sample.add_argument("--similar-to", metavar="WORD", help="the names closest to WORD, closest first")
    sample.add_argument(
        "--exact", action="store_true", help="the model's distribution conditioned on the constraints (slower)"
    )

    score = commands.add_parser(
        "score", parents=[common], help="per-character loss of texts (like POST /score)", allow_abbrev=False
    )
    score.add_argument("texts", nargs="+", metavar="TEXT")

    after = commands.add_parser(
        "next", parents=[common], help="what the model expects after a prefix (like GET /next)", allow_abbrev=False
    )
    after.add_argument("--prefix", default="", help="the beginning of a name (default: none, the first letter)")
    after.add_argument("--top", type=int, help="at most this many characters (default: all)")

    commands.add_parser("serve", help="run the HTTP service (same as `python -m app.http.serve`)", allow_abbrev=False)
    for name, (module, summary) in TRAINING_COMMANDS.items():
        # Listed here for `namegen --help`; main() hands their arguments to the module before this parser runs.
        commands.add_parser(name, help=f"{summary} (= python -m {module})", add_help=False)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in TRAINING_COMMANDS:
        return run_training_command(argv[0], argv[1:])
    args = build_parser().parse_args(argv)
    if args.command == "serve":
        from app.http.serve import main as serve_main

        return serve_main()
    try:
        return run(args)
    except BrokenPipeError:  # `namegen sample | head`: the reader left; stop quietly, as Unix tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except (ArtifactError, UnknownModel) as exc:
        print(f"namegen: error: {exc}", file=sys.stderr)
        return EXIT_BAD_MODEL
    except (InvalidInput, ValidationError) as exc:
        # The problems the HTTP API lists in its 422, one line each, named by option (--min-length).
        problems = (
            exc.problems
            if isinstance(exc, InvalidInput)
            else [FieldProblem(tuple(e["loc"]), e["msg"], e["type"]) for e in exc.errors()]
        )
        for problem in problems:
            print(f"namegen: error: {option_problem(problem)}", file=sys.stderr)
        return EXIT_BAD_INPUT


def option_problem(problem: FieldProblem) -> str:
    """'min_length: msg' -> '--min-length: msg'; a scored text is named by its argument position."""
    if problem.loc and problem.loc[0] == "texts" and len(problem.loc) > 1:
        return f"TEXT {int(problem.loc[1]) + 1}: {problem.msg}"  # counted as the command line shows them
    if problem.loc and isinstance(problem.loc[0], str) and problem.loc[0] != "texts":
        name = ("-" if len(problem.loc[0]) == 1 else "--") + problem.loc[0].replace("_", "-")
        return describe(FieldProblem((name, *problem.loc[1:]), problem.msg, problem.type))
    return describe(problem)


def run_training_command(name: str, argv: list[str]) -> int:
    """Hand `argv` to training.<name>.main, imported only now: the Docker image ships app/ without training/."""
    module_name, _ = TRAINING_COMMANDS[name]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        missing = exc.name or ""
        if missing == "training" or missing.startswith("training."):
            reason = "the repository's training/ package, which this installation lacks (run it from a clone)"
        else:
            reason = f"the Python package {missing!r}: pip install -e '.[train]' in a clone of the repository"
        print(f"namegen: error: `namegen {name}` needs {reason}", file=sys.stderr)
        return EXIT_BAD_INPUT
    status: int = module.main(argv, prog=f"namegen {name}")
    return status


def run(args: argparse.Namespace) -> int:
    settings = Settings()
    torch.set_num_threads(settings.torch_threads)  # the server's thread setting: same numbers, same names
    if args.command == "sample":
        query = SampleQuery(
            model=None,  # --model may be a path; chosen_model_file() below resolves it
            n=args.n,
            temperature=args.temperature,
            seed=args.seed,
            top_k=args.top_k,
            top_p=args.top_p,
            prefix=args.prefix,
            min_length=args.min_length,
            max_length=args.max_length,
            novel_only=args.novel_only,
            unique=args.unique,
            suffix=args.suffix,
            contains=args.contains,
            excludes=args.excludes,
            pattern=args.pattern,
            similar_to=args.similar_to,
            exact=args.exact,
        )  # validated before the model loads: a typo fails fast
        print_sample(engine(settings, args.model).sample_now(query.to_request()), args.json)
        return 0
    if args.command == "next":
        asked = NextQuery(model=None, prefix=args.prefix, top=args.top)
        print_next(asyncio.run(engine(settings, args.model).next_chars(asked.to_request())), args.json)
        return 0
    print_scores(engine(settings, args.model).score_now(args.texts), args.json)
    return 0


def engine(settings: Settings, model: str | None) -> Engine:
    """The engine of `model` (a name in the configured store, or a file), with the service's limits."""
    path = chosen_model_file(settings.model_path, settings.default_model, model)
    return Engine(load_artifact(path), settings.engine_limits())


def as_json(result: Any) -> str:
    """A typed result as the HTTP API's JSON (the same fields in the same order), indented for reading."""
    return json.dumps(dataclasses.asdict(result), indent=1)


def print_sample(result: SampleResult, json_output: bool) -> None:
    if json_output:
        print(as_json(result))
        return
    for sample in result.samples:
        print(sample.name)
    print(f"# seed {result.seed}", file=sys.stderr)
    if result.params.similar_to is not None or result.params.exact:
        print(f"# chosen among {result.drawn} names drawn", file=sys.stderr)
    for note in result.notes:
        print(f"# note: {note}", file=sys.stderr)
    if not result.complete:
        print(f"# {result.message}", file=sys.stderr)


def print_scores(results: list[ScoredText], json_output: bool) -> None:
    if json_output:
        print(json.dumps({"results": [dataclasses.asdict(r) for r in results]}, indent=1))
        return
    print(f"{'text':<20} {'total_loss':>10} {'mean_loss':>10} {'perplexity':>10}  per character (-ln p)")
    for r in results:
        for note in r.notes:
            print(f"# note: {note}", file=sys.stderr)
        chars = " ".join(f"{c.char}:{c.loss:.2f}" for c in r.chars)
        print(f"{r.text:<20} {r.total_loss:>10.4f} {r.mean_loss:>10.4f} {r.perplexity:>10.3f}  {chars}")


def print_next(result: NextChars, json_output: bool) -> None:
    if json_output:
        print(as_json(result))
        return
    for note in result.notes:
        print(f"# note: {note}", file=sys.stderr)
    print(f"# after {result.prefix!r} (ln p of the prefix {result.prefix_log_prob:.4f}); '.' ends the name")
    for entry in result.next:
        print(f"{entry.char}  {entry.prob:.4f}  {entry.loss:.4f}")


if __name__ == "__main__":
    sys.exit(main())

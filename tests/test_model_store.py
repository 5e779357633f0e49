"""The model store: a directory of artifacts served side by side, each by its file stem; `model` picks one."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from servers import free_port

from app.cli import EXIT_BAD_INPUT, EXIT_BAD_MODEL, main
from app.engine.artifact import ArtifactError, ArtifactMeta, load_artifact
from app.engine.engine import Engine
from app.engine.limits import EngineLimits
from app.engine.requests import SampleRequest
from app.http.routes.model_info import ModelInfo
from app.main import create_app
from app.settings import SHIPPED_MODELS, Settings

NAMES = SHIPPED_MODELS / "names-mlp.pt"
LECTURE = SHIPPED_MODELS / "lecture-mlp.pt"
SHIPPED = sorted(SHIPPED_MODELS.glob("*.pt"))
REPO = Path(__file__).resolve().parent.parent


def model_directory(directory: Path, files: dict[str, Path]) -> Path:
    directory.mkdir(exist_ok=True)
    for name, source in files.items():
        (directory / f"{name}.pt").symlink_to(source)
    return directory


@pytest.fixture(scope="module")
def two_models(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """A directory holding two artifacts (and a model card, which is not a model), served with the defaults."""
    directory = model_directory(tmp_path_factory.mktemp("models"), {"first": NAMES, "small": LECTURE})
    (directory / "first.card.md").write_text("# a model card, not a model\n")
    with TestClient(create_app(Settings(model_path=directory, warm_names=0))) as client:
        yield client


def start(settings: Settings) -> None:
    """Run the app's startup (and shutdown) in process, as the server would."""
    with TestClient(create_app(settings)):
        pass


def quiet_limits() -> EngineLimits:
    return EngineLimits(warm_names=0)


def test_a_directory_with_two_artifacts_serves_both_by_file_stem(two_models: TestClient) -> None:
    listing = two_models.get("/models").json()
    assert [m["name"] for m in listing["models"]] == ["first", "small"]
    assert listing["default"] == "first"  # no names-mlp here: the first name
    small = listing["models"][1]
    assert small["block_size"] == 3 and small["parameters"] == 11_897
    assert small["dev_loss"] == load_artifact(LECTURE).meta.dev_loss
    assert small["dataset"]["name"] == "names.txt" and small["dataset"]["words"] == 32_033


def test_model_info_is_the_named_models_metadata(two_models: TestClient) -> None:
    info = two_models.get("/model", params={"model": "small"}).json()
    assert (info["name"], info["file"], info["default"], info["block_size"]) == ("small", "small.pt", False, 3)
    assert two_models.get("/model").json()["name"] == "first"


def test_the_documented_model_info_fields_are_the_artifact_records_fields_or_facts_of_the_file() -> None:
    recorded = {f.name for f in dataclasses.fields(ArtifactMeta)} | {"format"}
    facts_of_the_served_file = {"name", "default", "file", "sha256", "training_words"}
    assert set(ModelInfo.model_fields) - facts_of_the_served_file <= recorded


@pytest.mark.parametrize(("model", "source"), [("first", NAMES), ("small", LECTURE)])
def test_same_seed_gives_each_model_its_own_names_as_that_model_alone_gives_them(
    two_models: TestClient, model: str, source: Path
) -> None:
    params = {"model": model, "n": 12, "seed": 2024, "temperature": 0.9}
    served = two_models.get("/sample", params=params).json()
    alone = Engine(load_artifact(source), quiet_limits()).sample_now(SampleRequest(n=12, seed=2024, temperature=0.9))
    assert served["model"] == model
    assert served["names"] == alone.names
    assert two_models.get("/sample", params=params).json()["names"] == served["names"]


def test_two_models_give_different_names_for_one_seed(two_models: TestClient) -> None:
    first, small = (
        two_models.get("/sample", params={"model": m, "n": 12, "seed": 5}).json()["names"] for m in ("first", "small")
    )
    assert first != small


def test_scores_are_the_named_models(two_models: TestClient) -> None:
    alone = Engine(load_artifact(LECTURE), quiet_limits()).score_now(["emma", "zyx"])
    one = two_models.post("/score", json={"text": "emma", "model": "small"}).json()
    batch = two_models.post("/score/batch", json={"texts": ["emma", "zyx"], "model": "small"}).json()["results"]
    assert one["total_loss"] == alone[0].total_loss and one["model"] == "small"
    assert [r["total_loss"] for r in batch] == [r.total_loss for r in alone]
    default = two_models.post("/score", json={"text": "emma"}).json()
    assert default["model"] == "first" and default["total_loss"] != one["total_loss"]


@pytest.mark.parametrize(
    ("method", "path", "kwargs"),
    [
        ("GET", "/sample", {"params": {"model": "nope"}}),
        ("GET", "/model", {"params": {"model": "nope"}}),
        ("GET", "/next", {"params": {"model": "nope", "prefix": "em"}}),
        ("GET", "/model/plots", {"params": {"model": "nope"}}),
        ("POST", "/score", {"json": {"text": "emma", "model": "nope"}}),
        ("POST", "/score/batch", {"json": {"texts": ["emma"], "model": "nope"}}),
    ],
)
def test_an_unknown_model_is_a_404_listing_the_served_names(
    two_models: TestClient, method: str, path: str, kwargs: dict[str, object]
) -> None:
    response = two_models.request(method, path, **kwargs)  # type: ignore[arg-type]
    assert response.status_code == 404
    assert response.json() == {
        "detail": "unknown model 'nope'; the models are: first, small",
        "models": ["first", "small"],
    }


def test_models_takes_no_parameters(two_models: TestClient) -> None:
    response = two_models.get("/models", params={"model": "small"})
    assert response.status_code == 422 and response.json()["detail"][0]["loc"] == ["query", "model"]


def test_an_empty_model_name_is_a_422(two_models: TestClient) -> None:
    response = two_models.get("/sample", params={"model": ""})
    assert response.status_code == 422 and response.json()["detail"][0]["loc"] == ["query", "model"]


def test_metrics_carry_the_model_name_and_only_served_names(two_models: TestClient) -> None:
    two_models.get("/sample", params={"model": "small", "n": 3, "seed": 1})
    two_models.get("/sample", params={"model": "made-up", "n": 3})
    samples = [s for f in text_string_to_metric_families(two_models.get("/metrics").text) for s in f.samples]
    generated = {s.labels["model"]: s.value for s in samples if s.name == "namegen_names_generated_total"}
    assert generated["small"] >= 3
    requests = {s.labels["model"] for s in samples if s.name == "namegen_http_requests_total"}
    assert "made-up" not in requests and {"small", ""} <= requests
    info = {s.labels["model"] for s in samples if s.name == "namegen_model_info"}
    assert info == {"first", "small"}


def test_each_model_has_its_own_bounded_cache(two_models: TestClient) -> None:
    store = two_models.app.state.store  # type: ignore[attr-defined]
    first, small = store.engine("first").sampler, store.engine("small").sampler
    slots = Settings().cache_contexts
    assert first is not small and first.cache_keys.shape == small.cache_keys.shape == (slots,)
    assert store.engine("first").scheduler is store.engine("small").scheduler  # one queue, one bound


def test_the_default_model_is_the_setting(tmp_path: Path) -> None:
    directory = model_directory(tmp_path / "models", {"first": NAMES, "small": LECTURE})
    with TestClient(create_app(Settings(model_path=directory, default_model="small", warm_names=0))) as client:
        assert client.get("/sample", params={"n": 1}).json()["model"] == "small"
        assert client.get("/models").json()["default"] == "small"


def test_names_mlp_is_the_default_when_served(tmp_path: Path) -> None:
    directory = model_directory(tmp_path / "models", {"aaa": LECTURE, "names-mlp": NAMES})
    with TestClient(create_app(Settings(model_path=directory, warm_names=0))) as client:
        assert client.get("/models").json()["default"] == "names-mlp"


def test_a_default_model_that_is_not_served_refuses_startup(tmp_path: Path) -> None:
    directory = model_directory(tmp_path / "models", {"first": NAMES})
    with pytest.raises(ArtifactError, match=r"NAMEGEN_DEFAULT_MODEL='other' is not among the models found \(first\)"):
        start(Settings(model_path=directory, default_model="other", warm_names=0))


def test_a_broken_artifact_in_the_directory_refuses_startup_naming_it(tmp_path: Path) -> None:
    directory = model_directory(tmp_path / "models", {"first": NAMES})
    broken = directory / "broken.pt"
    broken.write_bytes(NAMES.read_bytes()[:1000])
    with pytest.raises(ArtifactError, match=f"^{broken}: incomplete zip archive"):
        start(Settings(model_path=directory, warm_names=0))


@pytest.mark.server
def test_the_serve_command_refuses_a_directory_with_a_broken_artifact_in_one_line(tmp_path: Path) -> None:
    directory = model_directory(tmp_path / "models", {"first": NAMES})
    (directory / "broken.pt").write_text("not a model")
    done = subprocess.run(
        [sys.executable, "-m", "app.http.serve"],
        cwd=REPO,
        env={**os.environ, "NAMEGEN_MODEL_PATH": str(directory), "NAMEGEN_PORT": str(free_port())},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0
    assert done.stderr.strip().splitlines() == [
        f"namegen: cannot start: {directory / 'broken.pt'}: not a TorchScript archive "
        "(a namegen model is a .pt file written by `namegen train`)"
    ]


def test_a_directory_without_models_refuses_startup(tmp_path: Path) -> None:
    (tmp_path / "readme.md").write_text("no models here\n")
    with pytest.raises(ArtifactError, match=r"no model files \(\*\.pt\) in this directory"):
        start(Settings(model_path=tmp_path, warm_names=0))


def test_the_weights_a_training_run_keeps_beside_a_model_are_not_served(tmp_path: Path) -> None:
    directory = model_directory(tmp_path / "models", {"first": NAMES})
    (directory / "first.trained.pt").write_text("float32 weights kept for re-export, not a model")
    with TestClient(create_app(Settings(model_path=directory, warm_names=0))) as client:
        assert [m["name"] for m in client.get("/models").json()["models"]] == ["first"]


def test_a_single_file_is_served_as_before_under_its_stem(tmp_path: Path) -> None:
    single = tmp_path / "my-words.pt"
    shutil.copy(LECTURE, single)
    with TestClient(create_app(Settings(model_path=single, warm_names=0))) as client:
        assert client.get("/models").json()["default"] == "my-words"
        assert client.get("/sample", params={"n": 2, "seed": 3}).json()["model"] == "my-words"


# -- GET /next ------------------------------------------------------------------------------------------------


def test_next_probabilities_sum_to_one_and_come_most_likely_first(two_models: TestClient) -> None:
    body = two_models.get("/next", params={"prefix": "em"}).json()
    probs = [c["prob"] for c in body["next"]]
    assert len(probs) == 27 and {c["char"] for c in body["next"]} == set(load_artifact(NAMES).vocab)
    assert math.fsum(probs) == pytest.approx(1.0, abs=1e-9)
    assert probs == sorted(probs, reverse=True)


@pytest.mark.parametrize("model", ["first", "small"])
def test_each_next_probability_is_exp_minus_the_loss_score_gives_at_that_position(
    two_models: TestClient, model: str
) -> None:
    body = two_models.get("/next", params={"prefix": "em", "model": model}).json()
    texts = [f"em{c['char']}" for c in body["next"] if c["char"] != "."]
    scored = two_models.post("/score/batch", json={"texts": texts, "model": model}).json()["results"]
    after_em = {r["text"][2]: r["chars"][2]["loss"] for r in scored}
    after_em["."] = two_models.post("/score", json={"text": "em", "model": model}).json()["chars"][2]["loss"]
    for entry in body["next"]:
        assert entry["loss"] == pytest.approx(after_em[entry["char"]], abs=1e-9)
        assert entry["prob"] == pytest.approx(math.exp(-after_em[entry["char"]]), rel=1e-9)


def test_next_equals_the_torchscript_forward_on_the_prefix_context(two_models: TestClient) -> None:
    artifact = load_artifact(LECTURE)
    ids = [artifact.vocab.index(c) for c in "emm"]
    context = torch.tensor([[0] * (artifact.block_size - len(ids)) + ids])
    with torch.no_grad():
        log_probs = torch.log_softmax(artifact.module(context).double(), dim=1)[0]
    body = two_models.get("/next", params={"prefix": "emm", "model": "small"}).json()
    for entry in body["next"]:
        assert entry["loss"] == pytest.approx(-float(log_probs[artifact.vocab.index(entry["char"])]), abs=1e-5)


def test_the_prefix_log_prob_is_minus_the_prefix_characters_losses(two_models: TestClient) -> None:
    body = two_models.get("/next", params={"prefix": "Emm"}).json()
    chars = two_models.post("/score", json={"text": "emm"}).json()["chars"]
    assert body["prefix"] == "emm" and body["normalized"] is True and body["input"] == "Emm"
    assert body["notes"] == ["prefix: folded into the model's vocabulary: 'E' -> 'e'"]
    assert body["prefix_log_prob"] == pytest.approx(-sum(c["loss"] for c in chars[:3]), abs=1e-9)


def test_the_empty_prefix_gives_the_first_characters_distribution(two_models: TestClient) -> None:
    body = two_models.get("/next", params={"top": 3}).json()
    first_of = {c["char"]: c["loss"] for c in body["next"]}
    for char, loss in first_of.items():
        assert two_models.post("/score", json={"text": char}).json()["chars"][0]["loss"] == pytest.approx(
            loss, abs=1e-9
        )
    assert body["prefix_log_prob"] == 0 and len(body["next"]) == 3


def test_top_keeps_the_most_likely_characters(two_models: TestClient) -> None:
    everything = two_models.get("/next", params={"prefix": "ka"}).json()["next"]
    assert two_models.get("/next", params={"prefix": "ka", "top": 5}).json()["next"] == everything[:5]
    assert two_models.get("/next", params={"prefix": "ka", "top": 1000}).json()["next"] == everything


@pytest.mark.parametrize(
    ("params", "loc"),
    [
        ({"prefix": "e3"}, ["query", "prefix", 1]),
        ({"prefix": "x" * 65}, ["query", "prefix"]),
        ({"top": 0}, ["query", "top"]),
        ({"prefx": "em"}, ["query", "prefx"]),
    ],
)
def test_a_bad_next_query_is_a_422_naming_the_parameter(
    two_models: TestClient, params: dict[str, object], loc: list[object]
) -> None:
    response = two_models.get("/next", params=params)
    assert response.status_code == 422 and response.json()["detail"][0]["loc"] == loc


# -- the CLI ---------------------------------------------------------------------------------------------------


def test_the_cli_samples_from_a_model_by_name(capsys: pytest.CaptureFixture[str]) -> None:
    alone = Engine(load_artifact(LECTURE), quiet_limits()).sample_now(SampleRequest(n=4, seed=11))
    assert main(["sample", "--model", "lecture-mlp", "-n", "4", "--seed", "11"]) == 0
    assert capsys.readouterr().out.split() == alone.names


def test_the_cli_takes_a_model_file_path(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    copy = tmp_path / "elsewhere.pt"
    shutil.copy(LECTURE, copy)
    assert main(["score", "--model", str(copy), "emma", "--json"]) == 0
    result = capsys.readouterr().out
    assert '"model": "elsewhere"' in result


def test_the_cli_names_the_models_when_one_is_unknown(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sample", "--model", "nope"]) == EXIT_BAD_MODEL
    err = capsys.readouterr().err
    assert err.startswith("namegen: error: unknown model 'nope'; the models are: ") and "names-mlp" in err


def test_the_cli_next_prints_what_get_next_gives(two_models: TestClient, capsys: pytest.CaptureFixture[str]) -> None:
    http = two_models.get("/next", params={"prefix": "Em", "top": 4, "model": "small"}).json()
    capsys.readouterr()
    assert main(["next", "--prefix", "Em", "--top", "4", "--model", str(LECTURE), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert {**printed, "model": "small"} == http  # the same numbers; only the name differs (file stem vs store)


def test_the_cli_next_names_a_bad_prefix_by_its_option(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["next", "--prefix", "e3"]) == EXIT_BAD_INPUT
    assert capsys.readouterr().err.splitlines()[-1] == (
        "namegen: error: --prefix[1]: character '3' at position 1 is outside the model's vocabulary "
        "('abcdefghijklmnopqrstuvwxyz')"
    )


# -- stderr is the JSON log stream -----------------------------------------------------------------------------


def not_json(stderr: str) -> list[str]:
    """The lines of `stderr` that are not JSON (torch's C++ warnings, for one, are plain text)."""
    lines = []
    for line in stderr.splitlines():
        try:
            json.loads(line)
        except ValueError:
            lines.append(line)
    return lines


def test_loading_and_warming_up_every_shipped_model_writes_only_json_lines_on_stderr() -> None:
    # A fresh process, as the server starts: the first load of an int8 model is where torch warned about its
    # deprecated quantized tensors.
    code = (
        "import asyncio; from app.engine.store import ModelStore; from app.settings import Settings; "
        "s = Settings(warm_names=50); store = ModelStore.load(s.model_path, s.default_model, s.engine_limits()); "
        "asyncio.run(store.warm_up()); "
        "print(sorted(store.names)); store.close()"
    )
    run = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == str(sorted(p.stem for p in SHIPPED))
    assert not_json(run.stderr) == []


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_the_cli_on_each_shipped_model_writes_nothing_else_on_stderr(path: Path) -> None:
    code = "import sys; from app.cli import main; sys.exit(main(sys.argv[1:]))"
    command = [sys.executable, "-c", code, "next", "--prefix", "em", "--top", "3", "--model", str(path)]
    run = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0 and run.stdout.startswith("# after 'em'")
    assert not_json(run.stderr) == []

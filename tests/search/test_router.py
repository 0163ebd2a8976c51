"""Router decisions on labelled example queries: rules alone, then with a toy zero-shot embedder."""

from __future__ import annotations

import zlib

import numpy as np
import pytest

from xmodal.search import Route, Router, RouteTarget

TARGETS = (
    RouteTarget("docs", "minilm", "text", "text retrieval"),
    RouteTarget("emoji", "lit-image", "image", "emoji and clip art"),
    RouteTarget("clipart", "clip", "image", "broad objects"),
    RouteTarget("sfx", "lit-audio", "audio", "sound effects"),
)

LABELLED = [
    # audio
    ("a dog barking", ("audio",)),
    ("a crow cawing", ("audio",)),
    ("frogs croaking at night", ("audio",)),
    ("sound of rain", ("audio",)),
    ("what does a lion sound like?", ("audio",)),
    ("relaxing piano music", ("audio",)),
    ("car alarm noise", ("audio",)),
    ("cat meowing", ("audio",)),
    ("a song with drums", ("audio",)),
    ("thunder audio", ("audio",)),
    # image
    ("red heart emoji", ("image",)),
    ("a picture of a cat", ("image",)),
    ("photo of the eiffel tower", ("image",)),
    ("what does a zebra look like", ("image",)),
    ("smiling face icon", ("image",)),
    ("clip art of a tree", ("image",)),
    ("drawing of a house", ("image",)),
    ("blue car", ("image",)),
    # text
    ("how do I read a file in python", ("text",)),
    ("explain the difference between a list and a tuple", ("text",)),
    ("what is a decorator?", ("text",)),
    ("documentation for the os module", ("text",)),
    ("paragraph about climate change", ("text",)),
    ("answer to why the sky is blue", ("text",)),
    # ambiguous: no cue, or cues of equal weight
    ("dog", ("text", "image", "audio")),
    ("rain", ("text", "image", "audio")),
    ("a cat", ("text", "image", "audio")),
    ("picture of a dog barking", ("image", "audio")),
]


@pytest.mark.parametrize(("query", "expected"), LABELLED)
def test_rules_alone(query, expected):
    route = Router(TARGETS).route(query)
    assert set(route.modalities) == set(expected), route.trace.steps
    assert {t.modality for t in route.targets} == set(expected)
    assert route.ambiguous == (len(expected) > 1)


def test_targets_are_the_chosen_modalitys_collections_and_reason_names_the_cue():
    route = Router(TARGETS).route("red heart emoji")
    assert [t.collection for t in route.targets] == ["emoji", "clipart"]
    assert "'emoji'" in route.reason and "image leads" in route.reason
    assert route.scores == pytest.approx({"text": 0.0, "image": 1.0, "audio": 0.0})
    whats = [what for what, _ in route.trace.steps]
    assert whats == ["rules", "zero-shot", "combine", "decide"]


def test_ambiguous_reason_and_all_targets():
    route = Router(TARGETS).route("dog")
    assert route.ambiguous and "ambiguous" in route.reason
    assert len(route.targets) == len(TARGETS)


def test_only_modalities_with_targets_are_candidates():
    router = Router([t for t in TARGETS if t.modality != "audio"])
    assert set(router.route("a dog barking").modalities) == {"text", "image"}
    assert router.route("a picture of a dog barking").modalities == ("image",)
    single = Router([TARGETS[3]]).route("how do I read a file")
    assert single.modalities == ("audio",) and "only modality" in single.reason


def test_margin_controls_how_decisive_a_lead_must_be():
    # "answer to why the sky is blue": text 1.0 vs image 0.5 → shares 0.67 vs 0.33
    assert Router(TARGETS, margin=0.3).route("answer to why the sky is blue").modalities == (
        "text",)
    wide = Router(TARGETS, margin=0.5).route("answer to why the sky is blue")
    assert wide.modalities == ("text", "image")


# --- zero-shot with a toy embedder ----------------------------------------------------------

STOP = {"a", "an", "the", "of", "to", "is"}


def hashing_embedder(texts: list[str], dim: int = 256) -> np.ndarray:
    """Bag of words hashed into ``dim`` buckets (crc32, so deterministic across runs)."""
    out = np.zeros((len(texts), dim))
    for i, text in enumerate(texts):
        for tok in text.lower().replace("?", " ").split():
            if tok not in STOP:
                out[i, zlib.crc32(tok.encode()) % dim] += 1.0
    return out


DESCRIPTIONS = {
    "text": ("a document about programming", "an answer to a question"),
    "image": ("a picture of a cat", "a photo of a flower"),
    "audio": ("a dog barking", "a bird singing"),
}


def _zero_shot_router(**kw) -> Router:
    return Router(TARGETS, embed_text=hashing_embedder, modality_descriptions=DESCRIPTIONS, **kw)


def test_zero_shot_resolves_an_ambiguous_query():
    assert Router(TARGETS).route("dog").ambiguous
    route = _zero_shot_router().route("dog")
    assert route.modalities == ("audio",)
    assert "zero-shot" in route.reason
    assert route.scores["audio"] > route.scores["image"] + 0.05


def test_zero_shot_breaks_a_rule_tie():
    query = "picture of a dog barking"  # rules: image 1.0 vs audio 1.0
    assert set(Router(TARGETS).route(query).modalities) == {"image", "audio"}
    # the query shares two words with an audio description and one with an image description
    assert _zero_shot_router().route(query).modalities == ("audio",)


def test_zero_shot_does_not_override_a_clear_cue_it_has_no_view_on():
    route = _zero_shot_router().route("how do I read a file in python")
    assert route.modalities == ("text",)


def test_zero_shot_weight_zero_is_rules_alone():
    route = _zero_shot_router(zero_shot_weight=0.0).route("dog")
    assert route.ambiguous


def test_default_descriptions_work_with_an_embedder():
    route = Router(TARGETS, embed_text=hashing_embedder).route("an emoji")
    assert isinstance(route, Route) and route.modalities == ("image",)


def test_router_validation():
    with pytest.raises(ValueError, match="at least one"):
        Router([])
    with pytest.raises(ValueError, match="margin"):
        Router(TARGETS, margin=-0.1)
    with pytest.raises(ValueError, match="no descriptions"):
        Router(TARGETS, embed_text=hashing_embedder, modality_descriptions={"text": ("x",)})
    with pytest.raises(ValueError, match="returned shape"):
        Router(TARGETS, embed_text=lambda texts: np.zeros(3))
    with pytest.raises(ValueError, match="unknown modality"):
        Router([RouteTarget("v", "m", "video", "")])  # type: ignore[arg-type]


def test_target_from_card():
    from xmodal.encoders.card import ModelCard

    card = ModelCard(name="lit-starter", family="lit", dim=256, modalities=("text", "image"))
    t = RouteTarget.from_card("emoji", card, "image")
    assert t.model == "lit-starter" and "lit, 256-d" in t.card_summary
    assert "thousands of captions, not millions" in t.card_summary
    with pytest.raises(ValueError, match="does not embed"):
        RouteTarget.from_card("sfx", card, "audio")

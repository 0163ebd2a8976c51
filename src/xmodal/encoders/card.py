"""Model cards: what a router or an agent reads to pick a model."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from xmodal.modalities import Modality

Family = Literal[
    "clip", "siglip", "clap", "sentence-transformers", "lit", "efficientnet", "aisfx"
]


@dataclass(frozen=True)
class FamilyNotes:
    """What the field knows about a model family: its data, strengths and weaknesses."""

    training_data: str
    strengths: str
    weaknesses: str


FAMILY_NOTES: dict[Family, FamilyNotes] = {
    "clip": FamilyNotes(
        training_data="~400M web image–text pairs",
        strengths="broad objects and scenes; zero-shot classification",
        weaknesses="fine attributes, counting, text in images, long captions (77 tokens)",
    ),
    "siglip": FamilyNotes(
        training_data="WebLI image–text pairs (SigLIP 2: multilingual)",
        strengths="text in images, multilingual queries, calibrated pair scores",
        weaknesses="expects lower-cased text padded to max length; short context (64 tokens)",
    ),
    "clap": FamilyNotes(
        training_data="audio–caption pairs (LAION-Audio-630K, AudioCaps, Clotho)",
        strengths="environmental sounds and music",
        weaknesses="speech content; fixed 10 s windows, long clips must be chunked",
    ),
    "sentence-transformers": FamilyNotes(
        training_data="text pairs (NLI, Q&A, paraphrase and retrieval corpora)",
        strengths="text retrieval and similarity (BGE, E5, MiniLM)",
        weaknesses="text models only read text (multimodal ones: what their card lists); "
                   "truncates long documents",
    ),
    "lit": FamilyNotes(
        training_data="xmodal's locked-tower heads trained on the packaged real data",
        strengths="runs with no hub; small trained heads over frozen pretrained towers",
        weaknesses="trained on thousands of captions, not millions: far below CLIP/CLAP on "
                   "photos and open-vocabulary queries (see the card's figures)",
    ),
    "efficientnet": FamilyNotes(
        training_data="ImageNet-1k photos (1,000 object classes), classifier features",
        strengths="photographed objects and animals; a frozen image tower for LiT heads",
        weaknesses="image only; weak on text in images, cartoons and clip art",
    ),
    "aisfx": FamilyNotes(
        training_data="9 commercial sound-effect libraries (cross-dataset classification)",
        strengths="sound effects and short sounds; a frozen audio tower for LiT heads",
        weaknesses="audio only; ~2.3 s blocks mean-pooled, so long clips blur; not speech",
    ),
}


@dataclass(frozen=True)
class ModelCard:
    """Everything search and agents need to know about an encoder.

    Example:
        >>> card = ModelCard(name="minilm", family="sentence-transformers", dim=384,
        ...                  modalities=("text",), max_text_tokens=256)
        >>> card.supports("image"), card.notes.strengths.startswith("text retrieval")
        (False, True)
    """

    name: str  # the spec it was loaded from, e.g. "minilm" or "st:/models/bge-small"
    family: Family  # model family, for the notes and the preprocessing rules
    dim: int  # output dimension
    modalities: tuple[Modality, ...]  # what it can embed
    logit_scale: float | None = None  # trained multiplicative scale (exp t), if the weights hold it
    logit_bias: float | None = None  # trained additive bias of sigmoid (SigLIP) logits, if any
    max_text_tokens: int | None = None  # text longer than this is truncated (and reported)
    audio_window_s: float | None = None  # deterministic audio window length
    sample_rate: int | None = None  # audio sample rate the model expects
    query_prompt: str | None = None  # prefix encode_query adds (BGE / E5 instructions)
    document_prompt: str | None = None  # prefix encode_document adds
    training_sources: tuple[tuple[str, int], ...] = ()  # trained models: (source, pairs) used
    figures: tuple[tuple[str, float], ...] = ()  # measured figures, labelled ("out-of-domain
    #                                              hit@10 image→text", value)

    def supports(self, modality: Modality) -> bool:
        """Whether the model embeds ``modality``."""
        return modality in self.modalities

    @property
    def notes(self) -> FamilyNotes:
        """The family's training data, strengths and weaknesses."""
        return FAMILY_NOTES[self.family]

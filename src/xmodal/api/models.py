"""The request and response models of the HTTP API: they make its OpenAPI schema precise
(schemathesis checks every answer against it). Field names are the contract the web page, the
MCP server and agents code against. The search body holds the fields of
:class:`xmodal.search.request.SearchRequest` (which checks them) plus ``model``; a search,
a diagnosis and an index report answer the TypedDicts their producers return
(:class:`~xmodal.search.hits.SearchJSON`, :class:`~xmodal.api.diagnose.CollectionDiagnosisJSON`,
:class:`~xmodal.index.ingest.IndexReportJSON`): one schema per answer.

Example:
    >>> body = SearchRequest(query="a red heart", k=3)
    >>> body.search_fields()["k"], "model" in body.search_fields()
    (3, False)
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import UploadFile
from pydantic import BaseModel, ConfigDict, Field, Json

from xmodal.index.filters import FILTER_EXAMPLE, FILTER_HELP
from xmodal.modalities import Modality
from xmodal.search.reach import ReachJSON
from xmodal.search.request import PIVOT_HELP, RERANK_DEPTH, RERANK_HELP

PER_SEGMENT_HELP = ("Return the time segments of long recordings as separate hits (each with "
                    "its t_start / t_end), instead of one hit per document carrying its best "
                    "segments.")


class ErrorBody(BaseModel):
    """Every error: a short code and a message naming the problem."""

    error: str
    detail: str


class Health(BaseModel):
    status: Literal["ok"]
    collections: int
    documents: int


class Collection(BaseModel):
    model_config = ConfigDict(extra="allow")
    name: str
    model: str
    modality: str
    dim: int
    count: int
    backend: str
    card: dict[str, Any]
    calibration: dict[str, Any] | None
    quantization: Literal["none", "scalar", "binary"] = "none"


class CollectionDetail(Collection):
    stats: dict[str, Any]


class Collections(BaseModel):
    collections: list[Collection]
    routes: list[ReachJSON] = Field(
        default_factory=list, description="Which query modality reaches which documents: "
        "direct (the models and lists), pivot (through text), or none (why, and which "
        "models to add).")


class SearchRequest(BaseModel):
    """A text query, or a vector of one collection's model (exactly one)."""

    model_config = ConfigDict(extra="forbid")
    query: str | None = Field(None, description="Text query.")
    vector: list[float] | None = Field(None, description="A query vector of `collection`'s model.")
    collection: str | None = Field(None, description="The collection a `vector` searches (with "
                                   "a text query: the same as `collections=[collection]`).")
    model: str | None = Field(None, description="With `vector`: the model that made it.")
    k: int = Field(10, description="Hits wanted (1..max_k).")
    modalities: list[Modality] | None = None
    mixed: bool = False
    route: bool = True
    collections: list[str] | None = Field(
        None, description="Search only these collections (text queries).")
    fusion: Literal["rrf", "calibrated"] = Field(
        "rrf", description="Fuse lists by rank (RRF, k=60) or by calibrated probability.")
    filter: dict[str, Any] | None = Field(
        None, description=FILTER_HELP, examples=[FILTER_EXAMPLE])
    rrf_k: float = Field(60.0, ge=0, description="RRF rank constant: Σ w / (rrf_k + rank).")
    weights: dict[str, float] | None = Field(
        None, description="RRF weight (>= 0) per collection, or per list "
        "(\"COLLECTION[modality]\").")
    project: bool = Field(False, description="Apply a collection's stored gap projection to "
                          "the query vector (for comparing raw cosines across modalities).")
    per_segment: bool = Field(False, description=PER_SEGMENT_HELP)
    rerank: str | None = Field(None, description=RERANK_HELP)
    rerank_depth: int = Field(RERANK_DEPTH, description="How many text-bearing hits the "
                              "`rerank` cross-encoder rescores (the lists are searched this "
                              "deep).")
    pivot: bool = Field(True, description=PIVOT_HELP)

    def search_fields(self) -> dict[str, Any]:
        """The fields of the search request (all but ``model``, which the service checks)."""
        return self.model_dump(exclude={"model"})


class SearchFileForm(BaseModel):
    """Query by example (``POST /search/file``, multipart): an uploaded image or audio file and
    the options of a search (the fields of :class:`SearchRequest` that are not a query, less
    ``rerank`` / ``rerank_depth``: a cross-encoder reads text queries only)."""

    model_config = ConfigDict(extra="forbid")
    file: UploadFile = Field(description="The image or audio file.")
    modality: Literal["image", "audio"] | None = Field(
        None, description="What the file is (default: guessed from its type and bytes).")
    k: int = Field(10, description="Hits wanted (1..max_k).")
    modalities: list[Modality] | None = None
    mixed: bool = False
    route: bool = True
    collections: list[str] | None = Field(None, description="Search only these collections.")
    fusion: Literal["rrf", "calibrated"] = "rrf"
    filter: Json[dict[str, Any]] | None = Field(
        None, description="A JSON object: " + FILTER_HELP)
    rrf_k: float = Field(60.0, ge=0, description="RRF rank constant.")
    weights: Json[dict[str, float]] | None = Field(
        None, description="A JSON object: RRF weight per collection or list name.")
    project: bool = False
    per_segment: bool = Field(False, description=PER_SEGMENT_HELP)
    pivot: bool = Field(True, description=PIVOT_HELP)

    def search_fields(self) -> dict[str, Any]:
        """The options of the search request (all but the file and its modality)."""
        return {name: getattr(self, name) for name in type(self).model_fields
                if name not in ("file", "modality")}


class Item(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str
    vector: list[float]
    payload: dict[str, Any] | None = None


class UpsertRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    items: list[Item]
    model: str | None = Field(None, description="The model that made the vectors (checked).")
    normalize: bool = Field(False, description="Rescale vectors to unit norm.")


class UpsertResponse(BaseModel):
    inserted: int
    updated: int


class DeleteRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ids: list[str]


class DeleteResponse(BaseModel):
    deleted: int


class IndexRequest(BaseModel):
    """Files and folders to index, relative to the server's ``--root`` (at most 100)."""

    model_config = ConfigDict(extra="forbid")
    paths: list[str] = Field(description="Paths under the root (relative, or absolute inside "
                             "it); no '..', no symbolic links.")
    prune: bool = Field(False, description="Delete the documents of files gone from these "
                        "paths (never any other).")
    quantization: Literal["none", "scalar", "binary"] | None = Field(
        None, description="How collections this request creates store vectors (int8 / 1-bit "
        "codes, rescored with the originals); an existing collection keeps its own, and "
        "asking it for another is a 409.")


class ItemResponse(BaseModel):
    id: str
    payload: dict[str, Any]
    vector: list[float] | None = None


ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody, "description": text} for code, text in (
        (400, "Malformed request or bad Host header"), (401, "Missing or wrong token"),
        (403, "Cross-origin write, the service is read-only, or folder indexing is off"),
        (404, "Unknown collection, item or document"),
        (409, "The vector's model is not the collection's"), (413, "Input above a limit"),
        (422, "Invalid input"), (429, "Every work slot is busy (see Retry-After)"),
        (504, "The request took longer than the timeout"))
}

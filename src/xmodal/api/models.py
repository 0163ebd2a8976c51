"""The request and response models of the HTTP API: they make its OpenAPI schema precise
(schemathesis checks every answer against it). Field names are the contract the web page, the
MCP server and agents code against; a hit is exactly what ``xmodal search --json`` prints.

Example:
    >>> SearchRequest(query="a red heart", k=3).k
    3
    >>> sorted(HitModel.model_fields)[:4]
    ['calibrated', 'caption', 'collection', 'fused']
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


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


class CollectionDetail(Collection):
    stats: dict[str, Any]


class Collections(BaseModel):
    collections: list[Collection]


class Finding(BaseModel):
    code: str
    severity: str
    message: str
    remedy: str | None = None


class Diagnostics(BaseModel):
    collection: str
    sampled: int
    n: int
    dim: int
    gap: float | None
    gap_cosine: float | None
    random_pair_mean: float | None
    random_pair_std: float | None
    effective_rank: float | None
    anisotropy: float | None
    matched_cos_mean: float | None
    findings: list[Finding]


class HitModel(BaseModel):
    """One hit, as ``xmodal search --json`` prints it."""

    model_config = ConfigDict(extra="allow")
    id: str
    path: str | None
    modality: str | None
    collection: str
    rank: int
    score: float
    fused: bool
    raw_scores: dict[str, float]
    ranks: dict[str, int]
    caption: str | None = None
    calibrated: dict[str, float] | None = None


class SearchResponse(BaseModel):
    hits: list[HitModel]
    trace: list[str]
    errors: list[str]


Modality = Literal["text", "image", "audio"]


class SearchRequest(BaseModel):
    """A text query, or a vector of one collection's model (exactly one)."""

    model_config = ConfigDict(extra="forbid")
    query: str | None = Field(None, description="Text query.")
    vector: list[float] | None = Field(None, description="A query vector of `collection`'s model.")
    collection: str | None = Field(None, description="The collection a `vector` searches.")
    model: str | None = Field(None, description="With `vector`: the model that made it.")
    k: int = Field(10, description="Hits wanted (1..max_k).")
    modalities: list[Modality] | None = None
    mixed: bool = False
    route: bool = True
    collections: list[str] | None = Field(
        None, description="Search only these collections (text queries).")
    fusion: Literal["rrf", "calibrated"] = Field(
        "rrf", description="Fuse lists by rank (RRF, k=60) or by calibrated probability.")
    filter: dict[str, str | int | bool] | None = Field(
        None, description="Exact match on stored payload fields (e.g. {\"modality\": "
        "\"image\"}); all must match.")
    rrf_k: float = Field(60.0, ge=0, description="RRF rank constant: Σ w / (rrf_k + rank).")
    weights: dict[str, float] | None = Field(
        None, description="RRF weight (>= 0) per collection, or per list "
        "(\"COLLECTION[modality]\").")


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


class PathProblem(BaseModel):
    path: str
    reason: str


class IndexResponse(BaseModel):
    """What ``xmodal index --json`` prints."""

    indexed: int
    unchanged: int
    replaced: int
    pruned: int
    failed: list[PathProblem]
    skipped: list[PathProblem]
    collections: list[str]
    seconds: float


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

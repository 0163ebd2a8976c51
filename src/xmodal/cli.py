"""The ``xmodal`` command line."""

from __future__ import annotations

from typing import Annotated

import typer

from . import __version__
from .commands.options import (
    BatchOption,
    DeviceOption,
    OfflineOption,
    RerankOfferOption,
    RuntimeOption,
)
from .commands.search_options import option_filter, option_pairs

app = typer.Typer(
    help="xmodal: contrastive embeddings for multimodal retrieval.", no_args_is_help=True
)


@app.callback()
def main() -> None:
    """xmodal: contrastive embeddings for multimodal retrieval."""


@app.command()
def version() -> None:
    """Print the installed xmodal version."""
    typer.echo(__version__)


@app.command(
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
)
def train(
    ctx: typer.Context,
    config: str = typer.Argument(..., help="A .yaml or .json TrainConfig file."),
) -> None:
    """Train or fine-tune a dual encoder from CONFIG; any field can follow as --field VALUE.

    Example: xmodal train run.yaml --batch-size 256 --steps 500 --lr 1e-4 --device cuda

    On several GPUs or processes: torchrun --nproc_per_node 2 -m xmodal train run.yaml
    (batch_size is the global batch; rank 0 writes the model and the figures).
    """
    import logging
    import os

    from .train.build import train_from_config
    from .train.config import TrainConfig

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        cfg = TrainConfig.from_file(config, list(ctx.args))
    except (ValueError, FileNotFoundError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    group = _init_distributed(cfg.device) if int(os.environ.get("WORLD_SIZE", "1")) > 1 else False
    try:
        result, figures = train_from_config(cfg)
    finally:
        if group:
            import torch.distributed as dist

            dist.destroy_process_group()
    typer.echo(f"trained {result.steps} steps in {result.seconds:.1f} s: final loss "
               f"{result.losses[-1]:.4f}, temperature {result.temperature:.4f}"
               if result.losses else f"nothing to do: the run is at step {result.steps}")
    for message in (*result.warnings, *result.alarms):
        typer.echo(f"warning: {message}")
    if result.model_path is not None:
        typer.echo(f"model: {result.model_path}")
    if figures is not None:
        for k in sorted(figures.to_text):
            typer.echo(f"held-out R@{k}: item→text {figures.to_text[k]:.3f}  "
                       f"text→item {figures.from_text[k]:.3f}")
        typer.echo(f"chance R@10 item→text {figures.chance_to_text_at_10:.3f} "
                   f"({figures.n_items} items, {figures.n_captions} captions)")


def _init_distributed(device: str) -> bool:
    """Join the process group torchrun describes (WORLD_SIZE > 1); True when this call did."""
    import os

    import torch
    import torch.distributed as dist

    if not dist.is_available() or dist.is_initialized():
        return False
    cuda = device.startswith("cuda")
    if cuda:
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    dist.init_process_group(backend="nccl" if cuda else "gloo")
    return True


_MODEL_HELP = "encoder spec for {} files (a load_encoder spec; '' to skip them)"


@app.command("index")
def index_cmd(
    paths: Annotated[list[str] | None, typer.Argument(help="Files and folders to index.")] = None,
    index: str = typer.Option("xmodal-index", "--index", help="Index folder or URI."),
    image_model: str = typer.Option("starter-image", help=_MODEL_HELP.format("image")),
    audio_model: str = typer.Option("starter-audio", help=_MODEL_HELP.format("audio")),
    text_model: str = typer.Option("minilm", help=_MODEL_HELP.format("text")),
    prune: bool = typer.Option(False, help="Delete documents of files no longer present."),
    workers: int = typer.Option(0, help="Decoding worker processes."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
    quantization: str = typer.Option(
        None, "--quantization", help="none|scalar|binary: how collections this run creates "
        "store vectors (int8 / 1-bit codes in RAM, rescored with the originals); an existing "
        "collection keeps its own, and asking it for another is an error."),
    cross_modal_text: bool = typer.Option(True, help="Also embed text documents with the text "
                                          "side of each image/audio model (image and audio "
                                          "queries then reach them)."),
    remove_model: Annotated[list[str] | None, typer.Option(
        "--remove-model", help="Take a model out of the index (its collections; repeatable).")
    ] = None,
    offline: OfflineOption = False, device: DeviceOption = "cpu", batch_size: BatchOption = None,
    runtime: RuntimeOption = None,  # sets XMODAL_RUNTIME, which load_encoder reads
    rehash: bool = typer.Option(False, help="Read every file to hash it, even one whose size "
                                "and modification time are unchanged since it was indexed."),
) -> None:
    """Index images, audio, text and video files (side-car NAME.txt captions, NAME.srt
    subtitles) into per-model collections; unchanged files are skipped, bad ones reported on
    stderr."""
    from .commands.index import run_index, run_remove

    if remove_model or not paths:
        if paths or not remove_model:
            typer.echo("error: give files and folders to index, or --remove-model", err=True)
            raise typer.Exit(2)
        raise typer.Exit(run_remove(remove_model, index_uri=index))
    models = {"image": image_model, "audio": audio_model, "text": text_model}
    raise typer.Exit(run_index(paths, index_uri=index, models=models, prune=prune,
                               workers=workers, as_json=as_json, quantization=quantization,
                               device=device, batch_size=batch_size,
                               cross_modal_text=cross_modal_text, rehash=rehash))


@app.command()
def search(
    query: str = typer.Argument(None, help="Text query (or use --image / --audio)."),
    index: str = typer.Option("xmodal-index", "--index", help="Index folder or URI."),
    k: int = typer.Option(10, "--k", help="Hits wanted."),
    image: str = typer.Option(None, "--image", help="Query by example: an image file."),
    audio: str = typer.Option(None, "--audio", help="Query by example: an audio file."),
    modalities: Annotated[list[str] | None, typer.Option(
        "--modality", help="Document modality to search (repeatable).")] = None,
    mixed: bool = typer.Option(False, help="Search every modality and fuse by rank."),
    route: bool = typer.Option(True, help="Let the router pick the document modality of a "
                               "text query (--no-route: every modality)."),
    collections: Annotated[list[str] | None, typer.Option(
        "--collection", help="Search only this collection (repeatable).")] = None,
    fusion: str = typer.Option("rrf", help="rrf (by rank) or calibrated (by calibrated "
                               "probability, when every list searched is calibrated)."),
    rrf_k: float = typer.Option(60.0, "--rrf-k", help="RRF rank constant."),
    weights: Annotated[list[str] | None, typer.Option(
        "--weight", help="NAME=W: RRF weight of a collection or list (repeatable).")] = None,
    filter: Annotated[list[str] | None, typer.Option(
        "--filter", help="A payload filter in Qdrant's filter JSON, e.g. '{\"must\": [{\"key\": "
        "\"ext\", \"match\": {\"value\": \"png\"}}]}' (must/should/must_not; match value, "
        "any, except, text; range with numbers or ISO-8601 datetimes), or KEY=VALUE (exact "
        "match; VALUE read as JSON when it parses). Repeatable: all must hold.")] = None,
    project: bool = typer.Option(False, help="Apply a collection's stored gap projection to "
                                 "the query vector."),
    per_segment: bool = typer.Option(False, "--per-segment", help="Hits per time segment of "
                                     "long recordings (default: one per document, with the "
                                     "times of its best segment)."),
    rerank: str = typer.Option(None, "--rerank", help="A cross-encoder (folder or Hub id "
                               "ORG/NAME) that rescores the top text-bearing hits of a text "
                               "query; its list leads the fusion."),
    rerank_depth: int = typer.Option(50, "--rerank-depth", help="Hits --rerank rescores."),
    pivot: bool = typer.Option(True, help="Reach documents no model embeds with the query "
                               "(image → audio) through text: its nearest captions, searched "
                               "by the other model (--no-pivot: off)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON for agents."),
    routes: bool = typer.Option(False, "--routes", help="Print which query modality reaches "
                                "which documents, and how (no search)."),
    offline: OfflineOption = False, device: DeviceOption = "cpu", batch_size: BatchOption = None,
    runtime: RuntimeOption = None,  # sets XMODAL_RUNTIME, which load_encoder reads
) -> None:
    """Search an index: cross-modal by default, routed by the query, fused by rank."""
    from .commands.search import run_routes, run_search
    from .search.request import SearchRequest

    if routes:
        raise typer.Exit(run_routes(index_uri=index, as_json=as_json))

    if sum(v is not None for v in (query, image, audio)) != 1:
        typer.echo("error: give a query, or --image FILE, or --audio FILE (exactly one)",
                   err=True)
        raise typer.Exit(2)
    try:
        request = SearchRequest(
            query, image=image, audio=audio, k=k, modalities=modalities or (), mixed=mixed,
            route=route, collections=collections or (), fusion=fusion,  # type: ignore[arg-type]
            project=project, filter=option_filter(filter), rrf_k=rrf_k,
            weights=option_pairs(weights, "--weight", float), per_segment=per_segment,
            rerank=rerank, rerank_depth=rerank_depth, pivot=pivot)
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    raise typer.Exit(run_search(request, index_uri=index, as_json=as_json, device=device,
                                batch_size=batch_size))


@app.command()
def demo(
    index: str = typer.Option("xmodal-demo", "--index", help="Where to build the demo index."),
    limit: int = typer.Option(None, help="Items per dataset (default: all)."),
    workers: int = typer.Option(0, help="Decoding worker processes (on 2 cores: 0)."),
    full: bool = typer.Option(False, help="All 4,495 OpenMoji emoji (default: the first 2,500)."),
    runtime: RuntimeOption = None,  # sets XMODAL_RUNTIME, which load_encoder reads
) -> None:
    """Index the demo corpus (emoji, sounds, Python FAQ) and run example searches."""
    from .commands.demo import run_demo

    raise typer.Exit(run_demo(index_dir=index, limit=limit, workers=workers, full=full))


@app.command("eval")
def eval_cmd(
    run: str = typer.Option(None, "--run", help="A trec-style run JSON: {query: {doc: score}}."),
    qrels: str = typer.Option(None, "--qrels", help="Qrels JSON: {query: {doc: grade}}."),
    model: str = typer.Option(None, "--model", help="Or: a model spec to evaluate on --data."),
    data: str = typer.Option(None, "--data", help="Paired data (folder, file, source:NAME)."),
    metrics: str = typer.Option(",".join(("recall@10", "hit@10", "mrr@10", "ndcg@10",
                                          "map@10", "precision@10")),
                                help="Comma-separated metrics."),
    limit: int = typer.Option(None, help="Use the first N pairs of --data."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Retrieval metrics: a run against qrels, or a model on paired data (both directions)."""
    from .commands.measure import run_eval

    raise typer.Exit(run_eval(run=run, qrels=qrels, model=model, data=data,
                              metrics=[m.strip() for m in metrics.split(",") if m.strip()],
                              limit=limit, as_json=as_json))


@app.command()
def diagnose(
    a: str = typer.Argument(None, help="Embeddings (.npy, (n, d))."),
    b: str = typer.Argument(None, help="Matched embeddings of the other modality (.npy)."),
    index: str = typer.Option(None, "--index", help="Or: an index and a collection in it."),
    collection: str = typer.Option(None, "--collection"),
    against: str = typer.Option(None, "--against", help="A second collection (matched docs)."),
    html: str = typer.Option(None, "--html", help="Write an HTML report with plots."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    calibrate: bool = typer.Option(False, "--calibrate",
                                   help="Fit a calibrator on the matched pairs (report/JSON)."),
) -> None:
    """Collapse, coverage, modality gap and alignment of embeddings, with remedies."""
    from .commands.measure import run_diagnose

    raise typer.Exit(run_diagnose(a=a, b=b, index_uri=index, collection=collection,
                                  against=against, html=html, as_json=as_json,
                                  calibrate=calibrate))


@app.command()
def serve(
    index: str = typer.Option("xmodal-index", "--index", help="Index folder or URI."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to bind (loopback only "
                             "unless a token is given)."),
    port: int = typer.Option(8000, "--port", help="Port to listen on."),
    token: str = typer.Option(None, "--token", envvar="XMODAL_TOKEN",
                              help="Require this token on every request (env XMODAL_TOKEN)."),
    max_concurrency: int = typer.Option(None, "--max-concurrency",
                                        help="Requests worked on at once (default 2 × cores)."),
    router_model: str = typer.Option("minilm", "--router-model",
                                     help="Text model of the query router ('' for rules only)."),
    read_only: bool = typer.Option(False, "--read-only",
                                   help="Refuse upserts, deletes and folder indexing."),
    root: str = typer.Option(None, "--root", help="Allow POST /index (and the MCP tool "
                             "index_paths) under this folder (off by default)."),
    allowed_host: Annotated[list[str] | None, typer.Option(
        "--allowed-host", help="Another Host header name to accept (repeatable).")] = None,
    cors_origin: Annotated[list[str] | None, typer.Option(
        "--cors-origin", help="An origin allowed to call the API from a browser.")] = None,
    offline: OfflineOption = False, device: DeviceOption = "cpu", batch_size: BatchOption = None,
    runtime: RuntimeOption = None,  # sets XMODAL_RUNTIME, which load_encoder reads
    rerank: RerankOfferOption = None,
) -> None:
    """Serve the HTTP API, the web page and MCP (at /mcp) for one index (port 8000)."""
    from .api.http import run_serve

    raise typer.Exit(run_serve(index_uri=index, host=host, port=port, token=token,
                               max_concurrency=max_concurrency, router_model=router_model,
                               read_only=read_only, allowed_hosts=allowed_host or [],
                               cors_origins=cors_origin or [], root=root, device=device,
                               batch_size=batch_size, rerankers=rerank or []))


@app.command("mcp")
def mcp_cmd(
    index: str = typer.Option("xmodal-index", "--index", help="Index folder or URI."),
    transport: str = typer.Option("stdio", "--transport", help="stdio or http (streamable "
                                  "HTTP at http://HOST:PORT/mcp)."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to bind (http)."),
    port: int = typer.Option(8765, "--port", help="Port to listen on (http)."),
    router_model: str = typer.Option("minilm", "--router-model",
                                     help="Text model of the query router ('' for rules only)."),
    allowed_host: Annotated[list[str] | None, typer.Option(
        "--allowed-host", help="Another Host header to accept (http; repeatable).")] = None,
    token: str = typer.Option(None, "--token", envvar="XMODAL_TOKEN",
                              help="Require this token on every HTTP request (env "
                              "XMODAL_TOKEN); needed to bind beyond loopback."),
    allow_index: bool = typer.Option(False, "--allow-index",
                                     help="Offer the write tool index_paths (files under "
                                     "--root only); off: the index is opened read-only."),
    root: str = typer.Option(None, "--root", help="The folder index_paths may index under "
                             "(with --allow-index)."),
    offline: OfflineOption = False, device: DeviceOption = "cpu", batch_size: BatchOption = None,
    runtime: RuntimeOption = None,  # sets XMODAL_RUNTIME, which load_encoder reads
    rerank: RerankOfferOption = None,
) -> None:
    """Serve MCP tools (search, describe_collections, fetch_item; index_paths with
    --allow-index) over one index for agents."""
    from .api.binding import check_transport

    try:
        spoken = check_transport(transport)
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    try:
        from .api.mcp import run_mcp
    except ImportError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    from .encoders.base import EncoderLoadError  # the service loads torch at start anyway
    from .search.rerank import RerankerLoadError

    try:  # the service fetches its Hub models at start: one that cannot be had stops it here
        code = run_mcp(index, transport=spoken, host=host, port=port,
                       router_model=router_model or None, allowed_hosts=allowed_host or [],
                       token=token, allow_index=allow_index, root=root, device=device,
                       batch_size=batch_size, rerankers=rerank or [])
    except (EncoderLoadError, RerankerLoadError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    raise typer.Exit(code)


@app.command()
def calibrate(
    index: str = typer.Option(..., "--index", help="Index folder or URI."),
    collection: Annotated[list[str] | None, typer.Option(
        "--collection", help="Item collection to calibrate (repeatable; default: all).")] = None,
    precision: float = typer.Option(None, "--precision",
                                    help="Target precision of the threshold (default 0.8)."),
    recall: float = typer.Option(None, "--recall", help="Or: a target recall."),
    method: str = typer.Option("isotonic", "--method", help="isotonic or platt."),
    gap: bool = typer.Option(False, "--gap", help="Also fit and store a gap projection."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Calibrate text queries on each image/audio collection (matched vs non-matched captions,
    checked on held-out documents) and store the calibration with the collection."""
    from .commands.calibrate import run_calibrate

    raise typer.Exit(run_calibrate(index_uri=index, collections=collection or None,
                                   precision=precision, recall=recall, method=method, gap=gap,
                                   as_json=as_json))


from .commands.convert import convert_app  # noqa: E402  (the group's commands live there)

app.add_typer(convert_app, name="convert")

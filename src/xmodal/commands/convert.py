"""``xmodal convert``: other libraries' checkpoints as folders xmodal loads.

``xmodal convert open-clip CHECKPOINT OUT --arch NAME`` writes a transformers CLIP folder
(:func:`xmodal.encoders.convert_open_clip.convert_open_clip`) that ``hf-clip:OUT`` loads.
"""

from __future__ import annotations

import typer

__all__ = ["convert_app"]

convert_app = typer.Typer(help="Convert other libraries' checkpoints to folders xmodal loads.",
                          no_args_is_help=True)
@convert_app.command("open-clip")
def convert_open_clip_cmd(
    checkpoint: str = typer.Argument(..., help="open_clip weights (.safetensors, or a .bin/.pt "
                                     "state dict), or a hub snapshot folder."),
    out: str = typer.Argument(..., help="The transformers CLIP folder to write."),
    arch: str = typer.Option(None, "--arch", help="open_clip model config name (ViT-B-32, "
                             "ViT-L-14-quickgelu, ...)."),
    config: str = typer.Option(None, "--config", help="Or an open_clip model config JSON / "
                               "open_clip_config.json."),
    quick_gelu: bool = typer.Option(None, "--quick-gelu/--gelu", help="Force the activation "
                                    "(OpenAI's own weights use QuickGELU); default: the "
                                    "config's."),
    bpe: str = typer.Option(None, "--bpe", help="CLIP BPE merges file (default: open_clip's)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace a non-empty OUT."),
) -> None:
    """Write a transformers CLIPModel folder from an open_clip checkpoint; load it with
    hf-clip:OUT. Example: xmodal convert open-clip open_clip_model.safetensors vit-b-32
    --arch ViT-B-32"""
    from xmodal.encoders.convert_open_clip import ConvertError, convert_open_clip

    try:
        r = convert_open_clip(checkpoint, out, arch=arch, config=config, quick_gelu=quick_gelu,
                              bpe=bpe, overwrite=overwrite)
    except ConvertError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    typer.echo(f"wrote {r.out} ({r.arch}: {r.hidden_act}, {r.projection_dim}-d, "
               f"{r.image_size} px, {r.context_length} tokens, logit scale {r.logit_scale:.4g})")
    typer.echo(f"load it with: hf-clip:{r.out}")

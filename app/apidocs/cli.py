"""`flask apidocs write DIR`: the published documents, as committed under openapi/."""

from __future__ import annotations

import json
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from app.apidocs.collection import collection
from app.apidocs.documents import PARTNER, PLATFORM, documents

FILES = {PARTNER: "openapi.json", PLATFORM: "platform.json"}

apidocs_cli = AppGroup("apidocs", help="The published OpenAPI documents.")


@apidocs_cli.command("write")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
def write(directory: Path) -> None:
    """Write the partner and operator documents into DIRECTORY."""
    directory.mkdir(parents=True, exist_ok=True)
    for kind, text in rendered().items():
        (directory / FILES[kind]).write_text(text, encoding="utf-8")
        click.echo(directory / FILES[kind])


@apidocs_cli.command("collections")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
def write_collections(directory: Path) -> None:
    """Write a Postman (v2.1) collection of each document into DIRECTORY."""
    directory.mkdir(parents=True, exist_ok=True)
    for kind, doc in documents(current_app).items():
        path = directory / f"quanyi-{kind}.postman_collection.json"
        path.write_text(json.dumps(collection(doc), indent=2, ensure_ascii=False) + "\n")
        click.echo(path)


def rendered() -> dict[str, str]:
    """Each document as written to its file (sorted keys, so diffs stay readable)."""
    return {
        kind: json.dumps(doc, indent=2, ensure_ascii=False, sort_keys=True) + "\n"
        for kind, doc in documents(current_app).items()
    }

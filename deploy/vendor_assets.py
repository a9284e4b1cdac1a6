"""Vendor the web front ends' assets from the npm registry into app/static/vendor/ (`make vendor`).

Versions and the files taken from each package are pinned in app/static/vendor.json, with the
SHA-256 of each file as vendored; a test checks the committed files against it, so an asset
edited by hand or left at an old version fails the suite. Pages never load anything from a CDN.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

STATIC = Path(__file__).resolve().parent.parent / "app" / "static"
MANIFEST = STATIC / "vendor.json"


def main() -> int:
    manifest = json.loads(MANIFEST.read_text(encoding="utf-8"))
    with tempfile.TemporaryDirectory() as tmp:
        for package, pinned in manifest.items():
            spec = f"{package}@{pinned['version']}"
            name = subprocess.run(
                ["npm", "pack", spec, "--silent"], cwd=tmp, check=True, capture_output=True, text=True
            ).stdout.strip().splitlines()[-1]
            unpacked = Path(tmp) / package.replace("/", "_")
            with tarfile.open(Path(tmp) / name) as archive:
                archive.extractall(unpacked, filter="data")
            for source, target in pinned["files"].items():
                destination = STATIC / target["path"]
                destination.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(unpacked / "package" / source, destination)
                target["sha256"] = hashlib.sha256(destination.read_bytes()).hexdigest()
                print(f"{spec}: {source} -> app/static/{target['path']}")
    MANIFEST.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())

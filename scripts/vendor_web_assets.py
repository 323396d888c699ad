"""Vendor the web console's static assets from the npm registry into the repository.

    .venv/bin/python scripts/vendor_web_assets.py

For each pinned package it reads the version's metadata from registry.npmjs.org, downloads
the tarball, checks it against the registry's sha512 `integrity`, and copies the files the
console serves plus the package's licence into `src/muster/web/static/vendor/<dir>/`. It then
writes `vendor/VERSIONS.json` (package, version, tarball, integrity, files). Nothing is fetched
when muster runs: the files are committed. To upgrade, change a version below, run the script,
and review the diff.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import tarfile
from dataclasses import dataclass
from pathlib import Path

import httpx

REGISTRY = "https://registry.npmjs.org"
VENDOR = Path(__file__).resolve().parents[1] / "src" / "muster" / "web" / "static" / "vendor"


@dataclass(frozen=True)
class Asset:
    """One npm package: which version, where it goes, which of its files are served."""

    package: str
    version: str
    directory: str
    files: tuple[str, ...]  # paths inside the tarball's `package/`
    licence: str = "LICENSE"


ASSETS = (
    Asset("htmx.org", "2.0.8", "htmx", ("dist/htmx.min.js",), "LICENSE"),
    Asset("@picocss/pico", "2.1.1", "pico", ("css/pico.min.css",), "LICENSE.md"),
    Asset("chart.js", "4.5.1", "chartjs", ("dist/chart.umd.min.js",), "LICENSE.md"),
)


def metadata(client: httpx.Client, asset: Asset) -> dict[str, str]:
    """The version's `dist` record (tarball URL and sha512 integrity) from the registry."""
    response = client.get(f"{REGISTRY}/{asset.package}/{asset.version}")
    response.raise_for_status()
    dist: dict[str, str] = response.json()["dist"]
    if not dist.get("integrity", "").startswith("sha512-"):
        raise SystemExit(f"{asset.package}@{asset.version}: no sha512 integrity in the registry")
    return dist


def verified_tarball(client: httpx.Client, dist: dict[str, str]) -> bytes:
    """The tarball's bytes; exits when they do not match the registry's sha512."""
    response = client.get(dist["tarball"])
    response.raise_for_status()
    expected = base64.b64decode(dist["integrity"].removeprefix("sha512-"))
    if hashlib.sha512(response.content).digest() != expected:
        raise SystemExit(f"{dist['tarball']}: sha512 does not match the registry's integrity")
    return response.content


def extract(asset: Asset, tarball: bytes) -> list[str]:
    """Copy the asset's files and licence out of the tarball; their paths under vendor/."""
    target = VENDOR / asset.directory
    target.mkdir(parents=True, exist_ok=True)
    written: list[str] = []
    with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as archive:
        for inner in (*asset.files, asset.licence):
            member = archive.extractfile(f"package/{inner}")
            if member is None:
                raise SystemExit(f"{asset.package}: {inner} is not a file in the tarball")
            name = Path(inner).name
            (target / name).write_bytes(member.read())
            written.append(f"{asset.directory}/{name}")
    return written


def main() -> None:
    """Fetch, verify and copy every asset, then write VERSIONS.json."""
    record = []
    with httpx.Client(timeout=60, follow_redirects=True) as client:
        for asset in ASSETS:
            dist = metadata(client, asset)
            files = extract(asset, verified_tarball(client, dist))
            record.append(
                {
                    "package": asset.package,
                    "version": asset.version,
                    "tarball": dist["tarball"],
                    "integrity": dist["integrity"],
                    "files": files,
                }
            )
            print(f"{asset.package}@{asset.version}: {', '.join(files)}")
    (VENDOR / "VERSIONS.json").write_text(json.dumps(record, indent=2) + "\n")


if __name__ == "__main__":
    main()

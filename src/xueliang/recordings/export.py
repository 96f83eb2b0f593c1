"""Evidence export: one MP4 remuxed from the recorded bytes, a manifest, its Ed25519 signature.

Why a remux and not a re-encode: evidence must be the pictures as the camera sent them. FFmpeg (PyAV)
copies each recorded sample into a plain (non-fragmented, faststart) MP4 that any player opens;
only timestamps are rewritten, so that time in the file is wall-clock time since the first frame,
holes in the recording included. The manifest names every file with its SHA-256, the time range,
the camera, the operator and the reason; the signature over the manifest's exact bytes proves it was
written by this node and not changed since. `verify(dir)` recomputes all of it and names the file
that no longer matches."""

from __future__ import annotations

import base64
import hashlib
import io
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from xueliang.media.playback import read_range
from xueliang.recordings import signing

MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
FORMAT = "xueliang-export/1"
_TB = Fraction(1, 90_000)


@dataclass(frozen=True, slots=True)
class Source:
    """One recorded segment in the range: its file and how its media clock maps to wall time."""

    path: Path
    start: float
    end: float
    bytes: int
    media_start: int


@dataclass(slots=True)
class RemuxResult:
    files: list[Path] = field(default_factory=list)
    frames: int = 0
    first: float | None = None  # wall time of the first frame written
    origins: list[float] = field(default_factory=list)  # wall time of each file's time 0
    last: float | None = None  # wall time after the last frame written


def remux(sources: Sequence[Source], lo: float, hi: float, out_dir: Path, base: str) -> RemuxResult:
    """Copy the samples from the GOP holding `lo` up to `hi` into `base`.mp4 (a new part file,
    `base`-2.mp4 ..., where the codec configuration changes). Raises ValueError if nothing is there."""
    import av  # here, not at the top: 15 MB a node that never exports does not need

    result = RemuxResult()
    writer = _Writer(out_dir, base, lo, result)
    sounds = [_sound(source.path) for source in sources]
    template = next((s for s in sounds if s is not None), None)  # the first sound's codec for the file
    try:
        if template is not None:
            writer.audio_template = template.streams.audio[0]
        for source, sound in zip(sources, sounds, strict=True):
            data = read_range(source.path, 0, source.bytes)
            with av.open(io.BytesIO(data), "r", format="mp4") as container:
                stream = container.streams.video[0]
                writer.begin_source(stream)
                for packet in container.demux(stream):
                    if packet.dts is None or packet.size == 0:
                        continue
                    wall = source.start + (packet.dts - source.media_start) / 90_000
                    if wall >= hi:
                        break
                    writer.add(packet, wall)
            if sound is not None:
                _add_sound(writer, sound, source, hi)
        writer.close()
    except BaseException:
        writer.close()
        raise
    finally:
        for sound in sounds:
            if sound is not None:
                sound.close()
    if not result.frames:
        raise ValueError("no recorded video in this range")
    return result


def _sound(path: Path) -> Any:
    """The segment's recorded sound (`audio_path`, docs/media-audio.md), open; None when there is none."""
    import av

    sibling = path.with_suffix(".m4a")
    if not sibling.exists():
        return None
    try:
        container = av.open(str(sibling), "r", format="mp4")
    except (OSError, av.error.FFmpegError):
        return None  # a sibling torn by a crash before its first fragment: the video alone
    if not container.streams.audio:
        container.close()
        return None
    return container


def _add_sound(writer: _Writer, container: Any, source: Source, hi: float) -> None:
    """The sound beside one segment, on the video's clock: both clocks start with the camera's stream,
    so a sample at `t` s of the sound plays with the video's `t * 90000` ticks."""
    import av

    stream = container.streams.audio[0]
    try:
        for packet in container.demux(stream):
            if packet.pts is None or packet.size == 0:
                continue
            wall = source.start + float(packet.pts * stream.time_base) - source.media_start / 90_000
            if wall >= hi:
                break
            writer.add_audio(packet, wall, stream)
    except av.error.FFmpegError:
        pass  # a last fragment torn by a crash: what came before it is kept


class _Writer:
    """Holds back the GOP before `lo` (decoding must start at its keyframe), then writes packets with
    wall-clock timestamps; opens a new part file when the stream's parameter sets change."""

    def __init__(self, out_dir: Path, base: str, lo: float, result: RemuxResult) -> None:
        self.out_dir, self.base, self.lo, self.result = out_dir, base, lo, result
        self.output: Any = None
        self.stream: Any = None
        self.extradata: bytes | None = None
        self.template: Any = None
        self.held: list[tuple[Any, float]] = []
        self.started = False
        self.origin = 0.0
        self.last_dts = -1
        self.last_duration = 3600
        self.audio_template: Any = None  # the sound's stream, when the range has recorded sound
        self.audio: Any = None
        self.audio_last = -1

    def add_audio(self, packet: Any, wall: float, stream: Any) -> None:
        """A sound packet at `wall`: written from the part's first picture on, in the part's codec."""
        if self.audio is None or wall < self.origin:
            return
        extradata = bytes(stream.codec_context.extradata or b"")
        if extradata != bytes(self.audio_template.codec_context.extradata or b""):
            return  # the camera's sound changed format within the range: only the first format is kept
        rate = self.audio.time_base.denominator
        pts = max(round((wall - self.origin) * rate), self.audio_last + 1)
        packet.dts = packet.pts = pts
        packet.time_base = self.audio.time_base
        packet.stream = self.audio
        self.output.mux(packet)
        self.audio_last = pts

    def begin_source(self, stream: Any) -> None:
        extradata = bytes(stream.codec_context.extradata or b"")
        if self.output is not None and extradata != self.extradata:
            self._close_output()
        self.extradata = extradata
        self.template = stream

    def add(self, packet: Any, wall: float) -> None:
        if not self.started:
            if wall < self.lo:
                if packet.is_keyframe:
                    self.held = [(packet, wall)]
                elif self.held:
                    self.held.append((packet, wall))
                return
            self.started = True
            held, self.held = self.held, []
            for item in held:
                self._write(*item)
        self._write(packet, wall)

    def _write(self, packet: Any, wall: float) -> None:
        if self.output is None:
            if not packet.is_keyframe:
                return  # a part file must start with a keyframe
            self._open_output(wall)
        dts = max(round((wall - self.origin) * 90_000), self.last_dts + 1)
        offset = (packet.pts - packet.dts) if packet.pts is not None else 0
        packet.dts, packet.pts = dts, dts + offset
        packet.time_base = _TB
        if packet.duration:
            self.last_duration = packet.duration
        packet.stream = self.stream
        self.output.mux(packet)
        self.last_dts = dts
        result = self.result
        result.frames += 1
        if result.first is None:
            result.first = wall
        result.last = wall + self.last_duration / 90_000

    def _open_output(self, wall: float) -> None:
        part = len(self.result.files) + 1
        name = f"{self.base}.mp4" if part == 1 else f"{self.base}-{part}.mp4"
        path = self.out_dir / name
        import av

        self.output = av.open(str(path), "w", format="mp4", options={"movflags": "+faststart"})
        self.stream = self.output.add_stream_from_template(self.template)
        self.stream.time_base = _TB
        if self.audio_template is not None:
            self.audio = self.output.add_stream_from_template(self.audio_template)
            self.audio.time_base = Fraction(1, self.audio_template.codec_context.sample_rate)
            self.audio_last = -1
        self.origin = wall
        self.last_dts = -1
        self.result.files.append(path)
        self.result.origins.append(wall)

    def _close_output(self) -> None:
        if self.output is not None:
            self.output.close()
            self.output = self.stream = self.audio = None

    def close(self) -> None:
        self._close_output()


def sha256_file(path: Path, progress: Callable[[int], None] | None = None) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
            if progress is not None:
                progress(len(chunk))
    return digest.hexdigest()


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def write_manifest(
    out_dir: Path, files: Sequence[Path], meta: dict[str, Any], key: Ed25519PrivateKey
) -> dict[str, Any]:
    """manifest.json (files with size and SHA-256, plus `meta`: camera, range, operator, reason) and
    manifest.sig, the base64 Ed25519 signature of manifest.json's exact bytes."""
    public = signing.public_raw(key)
    manifest = {
        "format": FORMAT,
        **meta,
        "signer": {
            "algorithm": "Ed25519",
            "public_key": signing.b64(public),
            "fingerprint": signing.fingerprint(public),
        },
        "files": [{"name": f.name, "bytes": f.stat().st_size, "sha256": sha256_file(f)} for f in files],
    }
    body = json.dumps(manifest, ensure_ascii=False, indent=2, sort_keys=True).encode() + b"\n"
    (out_dir / MANIFEST).write_bytes(body)
    (out_dir / SIGNATURE).write_text(signing.b64(signing.sign(key, body)) + "\n")
    return manifest


def range_meta(lo: float, hi: float, recorded: RemuxResult) -> dict[str, Any]:
    return {
        "range": {"from": _iso(lo), "to": _iso(hi)},
        "recorded": {
            "from": _iso(recorded.first) if recorded.first is not None else None,
            "to": _iso(recorded.last) if recorded.last is not None else None,
            "frames": recorded.frames,
        },
    }


@dataclass(frozen=True, slots=True)
class Problem:
    file: str
    what: str


@dataclass(slots=True)
class VerifyReport:
    ok: bool
    problems: list[Problem]
    manifest: dict[str, Any] | None
    fingerprint: str = ""

    def lines(self) -> Iterator[str]:
        for problem in self.problems:
            yield f"{problem.file}: {problem.what}"


def verify(
    directory: Path, trusted_key: bytes | None = None, progress: Callable[[int], None] | None = None
) -> VerifyReport:
    """Check signature, key, and every file's size and SHA-256; each problem names its file."""
    problems: list[Problem] = []
    manifest_path, signature_path = directory / MANIFEST, directory / SIGNATURE
    try:
        body = manifest_path.read_bytes()
        manifest: dict[str, Any] = json.loads(body)
        public = base64.b64decode(manifest["signer"]["public_key"], validate=True)
        files = [(str(f["name"]), int(f["bytes"]), str(f["sha256"])) for f in manifest["files"]]
    except FileNotFoundError:
        return VerifyReport(False, [Problem(MANIFEST, "missing")], None)
    except (ValueError, KeyError, TypeError) as exc:
        return VerifyReport(False, [Problem(MANIFEST, f"unreadable or changed: {exc}")], None)
    try:
        signature = base64.b64decode(signature_path.read_text().strip(), validate=True)
    except FileNotFoundError:
        problems.append(Problem(SIGNATURE, "missing"))
    except ValueError:
        problems.append(Problem(SIGNATURE, "changed: not a base64 signature"))
    else:
        if not signing.verify(public, signature, body):
            problems.append(
                Problem(MANIFEST, f"changed: the signature in {SIGNATURE} does not match its bytes")
            )
    if trusted_key is not None and public != trusted_key:
        problems.append(Problem(MANIFEST, "signed by another key than this node's"))
    for name, size, digest in files:
        path = directory / name
        if "/" in name or "\\" in name or name in (MANIFEST, SIGNATURE):
            problems.append(Problem(name, "not a plain file name"))
        elif not path.is_file():
            problems.append(Problem(name, "missing"))
        elif path.stat().st_size != size:
            problems.append(Problem(name, f"changed: {path.stat().st_size} bytes, manifest says {size}"))
        elif sha256_file(path, progress) != digest:
            problems.append(Problem(name, "changed: SHA-256 differs from the manifest"))
    listed = {name for name, _, _ in files} | {MANIFEST, SIGNATURE}
    for extra in sorted(p.name for p in directory.iterdir() if p.name not in listed):
        problems.append(Problem(extra, "not part of the export"))
    return VerifyReport(not problems, problems, manifest, signing.fingerprint(public))

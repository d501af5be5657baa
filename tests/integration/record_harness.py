"""Helpers for the recording tests (test_record*.py, docs/recording.md), on top of harness.py
and origin_harness.py: a config with `record_root` and recorded cameras, the VOD playlist
parsed strictly, and the recordings on disk and in the SQLite index (Python's sqlite3, read
only) compared. Standard library only."""

import datetime
import os
import re
import sqlite3
import urllib.parse

import harness as h
import origin_harness as oh

NAME = re.compile(r"^(\d{8})T(\d{6})\.(\d{3})Z_(0|[1-9]\d*)_(0|[1-9]\d*)(_d)?\.ts$")


def write_config(path, cam_url, record_root, cam_id="cam1", token=None, via_defaults=False,
                 **settings):
    """Mapping form: no storage, the origin on a free port (with `token` when given), one
    recorded camera; `via_defaults` turns recording on in `defaults:` instead of the
    camera's settings."""
    s = {"segment_duration": 1, "record": True, "record_min_free_gb": 0}
    s.update(settings)
    defaults = []
    if via_defaults:
        defaults = ["defaults:", "  record: true", "  record_min_free_gb: 0"]
        del s["record"], s["record_min_free_gb"]
    lines = ["# written by tests/integration/record_harness.py",
             "storage: []",
             f"record_root: {h._yaml_scalar(record_root)}",
             *defaults,
             "origin:",
             "  listen: 127.0.0.1:0",
             *([f"  token: {h._yaml_scalar(token)}"] if token else []),
             "  webrtc:",
             "    enabled: false",
             "cameras:"]
    lines += h._camera_yaml(h.camera(cam_id, cam_url, **s), 2)
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    h.LOG_FILES.append(("config " + os.path.basename(path), path))
    return path


def iso_z(t):
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def vod_url(base, cam, start, end, **extra):
    q = {"start": iso_z(start), "end": iso_z(end), **extra}
    return f"{base}vod/{cam}/index.m3u8?" + urllib.parse.urlencode(q)


def parse_name(name):
    """(start seconds, duration s, msn, discontinuity) of a recorded segment name."""
    m = NAME.match(name)
    if not m:
        raise AssertionError(f"not a recorded segment name: {name!r}")
    t = datetime.datetime.strptime(m.group(1) + m.group(2), "%Y%m%d%H%M%S").replace(
        tzinfo=datetime.timezone.utc).timestamp() + int(m.group(3)) / 1000
    return t, int(m.group(4)) / 1000, int(m.group(5)), bool(m.group(6))


def rel_path(name):
    """YYYY-MM-DD/HH/<name>, where the recorder keeps it."""
    m = NAME.match(name)
    d, t = m.group(1), m.group(2)
    return f"{d[:4]}-{d[4:6]}-{d[6:]}/{t[:2]}/{name}"


def parse_vod(text):
    """Strict: harness.parse_playlist (RFC 8216 version 3) plus what a VOD playlist must
    have: EXT-X-PLAYLIST-TYPE:VOD once in the header, EXT-X-ENDLIST, a PROGRAM-DATE-TIME on
    every segment, names the recorder writes. Returns harness.Playlist."""
    lines = text.split("\n")
    types = [l for l in lines if l.startswith("#EXT-X-PLAYLIST-TYPE")]
    if types != ["#EXT-X-PLAYLIST-TYPE:VOD"]:
        raise h.PlaylistError(f"EXT-X-PLAYLIST-TYPE lines: {types}")
    first_uri = next((i for i, l in enumerate(lines) if l and not l.startswith("#")), None)
    if first_uri is not None and lines.index(types[0]) > first_uri:
        raise h.PlaylistError("EXT-X-PLAYLIST-TYPE after the first segment")
    pl = h.parse_playlist("\n".join(l for l in lines if not l.startswith("#EXT-X-PLAYLIST-TYPE")))
    if not pl.endlist:
        raise h.PlaylistError("no EXT-X-ENDLIST")
    for s in pl.segments:
        if s.pdt is None:
            raise h.PlaylistError(f"{s.uri}: no PROGRAM-DATE-TIME")
        uri = s.uri.split("?")[0]
        start, dur, _, _ = parse_name(uri)
        if abs(start - s.pdt) > 0.001 or abs(dur - s.duration) > 0.001:
            raise h.PlaylistError(f"{s.uri}: PDT/EXTINF disagree with its name")
    return pl


def files_on_disk(cam_dir):
    """name -> size of every complete recorded segment under the camera's directory. A
    running daemon's retention may delete a file between the listing and its size (seen in
    fresh-check's sanitizer pass): such a file is gone, not listed."""
    out = {}
    for root, _, names in os.walk(cam_dir):
        for n in names:
            if NAME.match(n):
                rel = os.path.relpath(os.path.join(root, n), cam_dir)
                if rel != rel_path(n):
                    raise AssertionError(f"{rel} is not where its name says")
                try:
                    out[n] = os.path.getsize(os.path.join(root, n))
                except FileNotFoundError:
                    continue
    return out


def temp_files(cam_dir):
    return [os.path.join(r, n) for r, _, ns in os.walk(cam_dir) for n in ns if n.endswith(".tmp")]


def index_rows(cam_dir):
    """name -> bytes of every row of the camera's index (read-only connection)."""
    db = sqlite3.connect(f"file:{os.path.join(cam_dir, 'index.db')}?mode=ro", uri=True,
                         timeout=5)
    try:
        rows = db.execute("SELECT msn, start_ms, duration_ms, bytes, discontinuity "
                          "FROM segments").fetchall()
    finally:
        db.close()
    out = {}
    for msn, start_ms, dur, size, disc in rows:
        when = datetime.datetime.fromtimestamp(start_ms // 1000, datetime.timezone.utc)
        name = (when.strftime("%Y%m%dT%H%M%S") + f".{start_ms % 1000:03d}Z_{dur}_{msn}"
                + ("_d" if disc else "") + ".ts")
        out[name] = size
    return out


def get(url, headers=None):
    return oh.request(url, headers=headers)


def probe(path):
    """One ffprobe per segment, decoding every video frame: its container, video codec,
    frame count and whether the first frame is a keyframe. Raises when ffprobe fails."""
    meta = h.ffprobe_json(path, "-show_format", "-show_streams", "-select_streams", "v:0",
                          "-show_frames", "-show_entries",
                          "format=format_name:stream=codec_name:frame=key_frame,pict_type")
    streams = meta.get("streams", [])
    frames = meta.get("frames", [])
    return {"format": meta.get("format", {}).get("format_name", ""),
            "codec": streams[0].get("codec_name") if streams else None,
            "frames": len(frames),
            "first_key": frames[0].get("key_frame") if frames else None}


def probe_many(paths, workers=2):
    from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(max_workers=workers) as ex:
        return dict(zip(paths, ex.map(probe, paths)))

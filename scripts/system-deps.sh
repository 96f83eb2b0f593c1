#!/usr/bin/env bash
# Debian packages the tests need: Chromium for browser tests, FFmpeg for the media benchmark peer,
# CJK fonts so screenshots of the zh-CN UI show real glyphs. Installs only when root and missing.
set -euo pipefail
need=()
[ -x /usr/bin/chromium ] || need+=(chromium)
command -v ffmpeg >/dev/null 2>&1 || need+=(ffmpeg)
command -v sipp >/dev/null 2>&1 || need+=(sip-tester)
[ -d /usr/share/fonts/opentype/noto ] || need+=(fonts-noto-cjk)
# GStreamer's RTSP server as an outside camera (x264 with B-frames, x265, G.711 and AAC audio), run by
# the system python3 with python3-gi in the media tests.
for pkg in python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-good gstreamer1.0-plugins-bad \
    gstreamer1.0-plugins-ugly; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'ok installed' || need+=("$pkg")
done
if [ ${#need[@]} -eq 0 ]; then exit 0; fi
if [ "$(id -u)" -ne 0 ]; then
  echo "system-deps: missing ${need[*]}; run as root or install them: apt-get install ${need[*]}" >&2
  exit 0
fi
echo "system-deps: installing ${need[*]}"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null

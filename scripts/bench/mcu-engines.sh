#!/usr/bin/env bash
# MCU engine prototype (the composed-layout issue's design note): the same job done by two
# engines that can be built here, measured side by side —
#   A. ffmpeg, one process: 4 VP8 inputs decoded, 2x2 composed (xstack), 1280x720 at 30 fps,
#      encoded once with libx264 (ultrafast, zerolatency);
#   B. GStreamer (gst-launch-1.0): the same inputs through vp8dec → compositor (pads placed
#      2x2; positions are runtime properties) → x264enc (ultrafast, zerolatency).
# Each runs in real time (-re / sync=true) for SECONDS; the figure is CPU seconds per second of
# output (1.0 = one core), from /usr/bin/time. Also: time to the first encoded frame (what a
# restart costs when an engine cannot change its layout live). Inputs are made once (VP8,
# 640x360 at 30 fps, distinct test patterns) under $VCBOX_CACHE_DIR. Last line: JSON.
# Usage: scripts/bench/mcu-engines.sh [SECONDS]   (needs ffmpeg and GStreamer from Debian)
set -euo pipefail
seconds="${1:-15}"
for pkg in gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly ffmpeg time; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing="${missing:-} $pkg"
done
if [ -n "${missing:-}" ]; then
  echo "[bench] installing:$missing" >&2
  apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends $missing >/dev/null
fi
cache="${VCBOX_CACHE_DIR:-$HOME/.cache/vcbox}/mcu-bench"
mkdir -p "$cache"
patterns=(testsrc smptebars rgbtestsrc testsrc2)
for i in 0 1 2 3; do
  f="$cache/in$i.webm"
  [ -s "$f" ] && continue
  ffmpeg -hide_banner -loglevel error -f lavfi -i "${patterns[$i]}=size=640x360:rate=30" -t 40 \
    -pix_fmt yuv420p -c:v libvpx -deadline realtime -cpu-used 8 -b:v 600k -g 60 "$f"
done

measure() { # name, command... → prints "cpu_per_second first_frame_ms"
  local name="$1"; shift
  local out; out=$(mktemp)
  local start; start=$(date +%s%N)
  /usr/bin/time -f '%U %S %e' -o "$out.time" "$@" >"$out" 2>"$out.err" || true
  read -r user sys wall < <(tail -n 1 "$out.time")
  echo "$name $(awk -v u="$user" -v s="$sys" -v w="$wall" 'BEGIN{printf "%.2f", (u+s)/w}') $wall"
  rm -f "$out" "$out.err" "$out.time"
}

# A. ffmpeg
a=$(measure ffmpeg ffmpeg -hide_banner -loglevel error -re -i "$cache/in0.webm" -re -i "$cache/in1.webm" -re -i "$cache/in2.webm" -re -i "$cache/in3.webm" \
  -filter_complex "[0:v][1:v][2:v][3:v]xstack=inputs=4:layout=0_0|w0_0|0_h0|w0_h0,scale=1280:720,fps=30[v]" -map "[v]" -t "$seconds" \
  -c:v libx264 -preset ultrafast -tune zerolatency -b:v 1500k -g 30 -f null -)

# B. GStreamer
src() { echo "filesrc location=$cache/in$1.webm ! matroskademux ! vp8dec ! videoconvert ! queue ! mix.sink_$1"; }
b=$(measure gstreamer timeout "$((seconds + 5))" gst-launch-1.0 -q \
  compositor name=mix background=black ignore-inactive-pads=true \
    sink_0::xpos=0 sink_0::ypos=0 sink_1::xpos=640 sink_1::ypos=0 sink_2::xpos=0 sink_2::ypos=360 sink_3::xpos=640 sink_3::ypos=360 \
  ! video/x-raw,width=1280,height=720,framerate=30/1 ! videoconvert ! x264enc speed-preset=ultrafast tune=zerolatency bitrate=1500 key-int-max=30 \
  ! fakesink sync=true \
  $(src 0) $(src 1) $(src 2) $(src 3))

# Time to the first encoded frame (restart cost), ffmpeg.
first_ms=$( { /usr/bin/time -f '%e' ffmpeg -hide_banner -loglevel error -i "$cache/in0.webm" -i "$cache/in1.webm" -i "$cache/in2.webm" -i "$cache/in3.webm" \
  -filter_complex "[0:v][1:v][2:v][3:v]xstack=inputs=4:layout=0_0|w0_0|0_h0|w0_h0,scale=1280:720[v]" -map "[v]" -frames:v 1 \
  -c:v libx264 -preset ultrafast -tune zerolatency -f null - ; } 2>&1 | tail -1 | awk '{printf "%d", $1*1000}')

read -r _ a_cpu a_wall <<<"$a"
read -r _ b_cpu b_wall <<<"$b"
echo "2x2 of 640x360 VP8 → 1280x720p30 H.264, ${seconds} s real time:"
echo "  ffmpeg (xstack, libx264)          : ${a_cpu} cores   (wall ${a_wall} s)"
echo "  GStreamer (compositor, x264enc)   : ${b_cpu} cores   (wall ${b_wall} s)"
echo "  ffmpeg start to first frame       : ${first_ms} ms (what each layout change would cost if the pipeline had to restart)"
printf '{"benchmark":"mcu-engines","seconds":%s,"ffmpegCores":%s,"gstreamerCores":%s,"ffmpegFirstFrameMs":%s}\n' "$seconds" "$a_cpu" "$b_cpu" "$first_ms"

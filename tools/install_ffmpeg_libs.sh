#!/bin/sh
# Install the FFmpeg runtime libraries that torchcodec loads (docs/decoding.md), where they are
# missing and this user can: as root with apt-get (Debian/Ubuntu). Otherwise say what to run;
# without them video_backend='auto' decodes with decord. Never fails the install.
# Called by `make venv`.
set -u

have_ffmpeg() {  # the seven shared libraries of one FFmpeg 4.4 .. 8.x (libavcodec 58 .. 62)
    libs=$(ldconfig -p 2>/dev/null)
    for lib in avcodec avformat avutil avdevice avfilter swscale swresample; do
        echo "$libs" | grep -qE "lib$lib\.so\.[0-9]+ " || return 1
    done
}

# One line per FFmpeg release: the Debian/Ubuntu packages of its seven libraries.
SETS='libavcodec62 libavformat62 libavutil60 libavdevice62 libavfilter11 libswscale9 libswresample6
libavcodec61 libavformat61 libavutil59 libavdevice61 libavfilter10 libswscale8 libswresample5
libavcodec60 libavformat60 libavutil58 libavdevice60 libavfilter9 libswscale7 libswresample4
libavcodec59 libavformat59 libavutil57 libavdevice59 libavfilter8 libswscale6 libswresample4
libavcodec58 libavformat58 libavutil56 libavdevice58 libavfilter7 libswscale5 libswresample3'
HINT='apt-get install libavcodec59 libavformat59 libavutil57 libavdevice59 libavfilter8 libswscale6 libswresample4 (Debian 12; other releases: the same libraries of their FFmpeg), or conda install ffmpeg'

if have_ffmpeg; then
    echo "FFmpeg libraries: found (torchcodec can decode)"
    exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "FFmpeg libraries: not found and not installable here (needs root and apt-get); video_backend='auto' will decode with decord. To use torchcodec: $HINT"
    exit 0
fi
echo "FFmpeg libraries: not found; installing them with apt-get (about 180 MiB)"
apt-get update -qq >/dev/null 2>&1 || true
echo "$SETS" | while read -r pkgs; do
    first=${pkgs%% *}
    if apt-cache policy "$first" 2>/dev/null | grep -q 'Candidate: [0-9]'; then
        # shellcheck disable=SC2086
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $pkgs \
            >/dev/null && echo "FFmpeg libraries: installed $pkgs"
        break
    fi
done
have_ffmpeg || echo "FFmpeg libraries: apt-get could not install them; video_backend='auto' will decode with decord. To use torchcodec: $HINT"
exit 0

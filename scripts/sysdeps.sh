#!/usr/bin/env bash
# Installs the Debian packages spectrolab needs (FluidSynth, two General-MIDI soundfonts, espeak-ng, and
# Chromium for the web editor's browser test) when missing.
set -euo pipefail
need=()
[ -f /usr/share/sounds/sf2/TimGM6mb.sf2 ] || need+=(timgm6mb-soundfont)
[ -f /usr/share/sounds/sf2/FluidR3_GM.sf2 ] || need+=(fluid-soundfont-gm)
ldconfig -p | grep -q libfluidsynth || need+=(fluidsynth)
ldconfig -p | grep -q libsndfile || need+=(libsndfile1)
[ -x /usr/bin/chromium ] || need+=(chromium)
command -v espeak-ng >/dev/null || need+=(espeak-ng)  # speech for the perceptual-loss experiment
[ ${#need[@]} -eq 0 ] && exit 0
echo "installing Debian packages: ${need[*]}"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq "${need[@]}" >/dev/null

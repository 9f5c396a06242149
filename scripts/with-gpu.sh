#!/usr/bin/env bash
# Run a command with a software WebGPU for Node when the machine has no GPU: Mesa 25 lavapipe (faster,
# has shader-f16) with WEBMOE_VK=lavapipe if it was extracted into .cache/lavapipe (Debian
# bookworm-backports' mesa-vulkan-drivers; nothing in this repository fetches it), else Chromium's
# SwiftShader. A user-set VK_ICD_FILENAMES wins.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-/tmp}
export NODEVICE_SELECT=1
if [ -z "${VK_ICD_FILENAMES:-}" ]; then
  if [ "${WEBMOE_VK:-}" = "lavapipe" ] && [ -f "$here/.cache/lavapipe/lvp_icd.json" ]; then
    export VK_ICD_FILENAMES="$here/.cache/lavapipe/lvp_icd.json"
    export LD_LIBRARY_PATH="$here/.cache/lavapipe/root/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  elif [ -f /usr/lib/chromium/vk_swiftshader_icd.json ]; then
    export VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json
  fi
fi
exec "$@"

#!/usr/bin/env bash
# Installs the real browser the status page tests drive: Debian's `chromium` and
# `chromium-driver` (chromedriver), with apt-get, when either is missing. Idempotent: a second
# run only checks. Needs root (CI runs as root) or sudo; prints what to install otherwise.
set -euo pipefail

have() { command -v "$1" >/dev/null 2>&1; }
if have chromium && have chromedriver; then
  echo "browser-setup: $(chromium --version 2>/dev/null | head -n 1); $(chromedriver --version 2>/dev/null | head -n 1)" >&2
  exit 0
fi

if ! have apt-get; then
  echo "browser-setup: chromium and chromedriver are missing and this is not a Debian-like system;" \
       "install Chromium and its matching ChromeDriver and put both on PATH" >&2
  exit 1
fi
if [ "$(id -u)" -eq 0 ]; then
  as_root=()
elif have sudo; then
  as_root=(sudo)
else
  echo "browser-setup: run as root (or install sudo) to install chromium and chromium-driver" >&2
  exit 1
fi

echo "browser-setup: installing chromium and chromium-driver with apt-get" >&2
export DEBIAN_FRONTEND=noninteractive
for attempt in 1 2 3; do
  if "${as_root[@]}" apt-get update -q \
    && "${as_root[@]}" apt-get install -y -q --no-install-recommends chromium chromium-driver; then
    break
  fi
  if [ "$attempt" -eq 3 ]; then
    echo "browser-setup: apt-get failed three times" >&2
    exit 1
  fi
  echo "browser-setup: apt-get failed (attempt $attempt of 3), retrying" >&2
  sleep $((attempt * 5))
done

have chromium && have chromedriver || {
  echo "browser-setup: chromium or chromedriver still not on PATH after installing" >&2
  exit 1
}
echo "browser-setup: $(chromium --version 2>/dev/null | head -n 1); $(chromedriver --version 2>/dev/null | head -n 1)" >&2
